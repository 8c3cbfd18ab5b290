using Stratus.Ml.Data;
using Stratus.Ml.Training.Gbm;
using Stratus.Server.Datasets;
using Stratus.Server.Jobs;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Hosting;

/// <summary>
/// The host of one job process (<c>stratus job-process JOB EPOCH SLOTS PARENT</c>, see <see cref="JobProcess"/>): its
/// node's settings from the <c>STRATUS_*</c> variables it was started with, the database, the blob store and the
/// executors; no HTTP, no silo.
/// </summary>
public static class JobProcessHost
{
    public static async Task<int> RunAsync(string jobId, int epoch, int slots, int parentPid)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(StratusServer.StratusEnvironment());
        var options = StratusOptions.Read(builder.Configuration).Checked();
        options.Register(builder.Services);
        PrivateFiles.Apply(options.Storage.DataDir);
        DataLimits.Current = options.Data.ToDataLimits();
        LightGbmThreads.Configure(options.Jobs.Threads);
        // Warnings and errors go to standard error, which the node copies into its own log.
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(c => c.SingleLine = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(c => c.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddMemoryCache();
        builder.Services.AddStratusStorage(options.Storage, collectGarbage: false);
        builder.Services.AddStratusDatasets();
        builder.Services.AddStratusTracking();
        builder.Services.AddStratusRegistry();
        builder.Services.AddScoped<TrainJobExecutor>();
        builder.Services.AddScoped<BatchJobExecutor>();
        builder.Services.AddSingleton(new JobClaim(jobId, epoch, slots));
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Stratus.JobProcess");
        await host.Services.GetRequiredService<ColumnSealer>().LoadAsync(CancellationToken.None); // its node checked the keys
        return await JobProcess.ExecuteAsync(host.Services, jobId, epoch, parentPid, logger);
    }
}
