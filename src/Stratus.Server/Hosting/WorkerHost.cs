using Stratus.Server.Cluster;
using Stratus.Server.Jobs;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Hosting;

/// <summary>
/// <c>stratus worker</c>: a node that runs jobs (training, AutoML, batch scoring) in job processes and serves no HTTP
/// API. It needs what the servers use — the metadata database and the blob store — and claims queued jobs through the
/// database whenever it has free slots. It never migrates the schema: a worker on a schema other than its build's
/// refuses to start, naming both.
/// </summary>
public static class WorkerHost
{
    /// <summary>Builds the worker from the same configuration as a server (appsettings.json, <c>STRATUS_*</c>, the command line).</summary>
    public static IHost Create(string[] args, Action<StratusOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        StratusServer.AddConfiguration(builder.Configuration, args);
        var options = StratusOptions.Read(builder.Configuration);
        configure?.Invoke(options);
        options.Storage.MigrateOnStart = false;
        options.Checked().Register(builder.Services);
        if (options.Jobs.WorkerSlots < 1) throw new StartupException($"Stratus:WorkerSlots is {options.Jobs.WorkerSlots}; a worker needs at least one slot");
        PrivateFiles.Apply(options.Storage.DataDir);
        NodeLogging.Configure(builder.Logging, options.Host.LogFormat, options.Storage.DataDir);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddStratusStorage(options.Storage, collectGarbage: false);
        builder.Services.AddStratusJobs(submissions: false);
        builder.Services.AddStratusNodeReports();
        return builder.Build();
    }

    /// <summary>Checks the database and the job host, recovers this machine's dead jobs, and starts dispatching.</summary>
    public static async Task StartWorkerAsync(this IHost host, CancellationToken ct = default)
    {
        var options = host.Services.GetRequiredService<StratusOptions>();
        var jobHost = options.Jobs.HostProgram;
        if (!File.Exists(jobHost))
            throw new StartupException($"the job host {jobHost} does not exist: set Stratus:JobHost (STRATUS_JOBHOST) to the stratus command (stratus.dll or its executable)");
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            await MetadataDatabase.PrepareAsync(db, options.Storage, ct);
            await host.Services.OpenEncryptionAsync(db, ct);
        }
        await host.Services.GetRequiredService<JobDispatcher>().RecoverAsync(ct);
        await host.StartAsync(ct);
    }
}
