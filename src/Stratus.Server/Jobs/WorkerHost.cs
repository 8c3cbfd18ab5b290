using Microsoft.Extensions.Options;
using Stratus.Server.Hosting;
using Stratus.Server.Storage;

namespace Stratus.Server.Jobs;

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
        var options = builder.Configuration.GetSection(StratusOptions.Section).Get<StratusOptions>() ?? new StratusOptions();
        configure?.Invoke(options);
        if (options.Problems() is { Count: > 0 } problems) throw new StartupException(string.Join("; ", problems));
        var cluster = Cluster.Clustering.Settings(builder.Configuration, options);
        options.DataDir = Path.GetFullPath(options.DataDir);
        options.MigrateOnStart = false;
        PrivateFiles.Apply(options.DataDir);
        if (options.WorkerSlots < 1) throw new StartupException($"Stratus:WorkerSlots is {options.WorkerSlots}; a worker needs at least one slot");
        NodeLogging.Configure(builder.Logging, options);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddStratusDatabase(options);
        builder.Services.AddStratusBlobStore(options);
        builder.Services.AddSingleton<JobRunner>();
        builder.Services.AddSingleton<JobDispatcher>();
        builder.Services.AddHostedService(s => s.GetRequiredService<JobDispatcher>());
        Cluster.Clustering.AddStratusNodeReports(builder.Services, cluster);
        return builder.Build();
    }

    /// <summary>Checks the database and the job host, recovers this machine's dead jobs, and starts dispatching.</summary>
    public static async Task StartWorkerAsync(this IHost host, CancellationToken ct = default)
    {
        var options = host.Services.GetRequiredService<IOptions<StratusOptions>>().Value;
        var jobHost = JobRunner.JobHost(options);
        if (!File.Exists(jobHost))
            throw new StartupException($"the job host {jobHost} does not exist: set Stratus:JobHost (STRATUS_JOBHOST) to the stratus command (stratus.dll or its executable)");
        await using (var scope = host.Services.CreateAsyncScope())
        {
            await MetadataDatabase.PrepareAsync(scope.ServiceProvider.GetRequiredService<StratusDb>(), options, ct);
        }
        await host.Services.GetRequiredService<JobDispatcher>().RecoverAsync(ct);
        await host.StartAsync(ct);
    }
}
