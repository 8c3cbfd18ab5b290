using System.Globalization;
using Stratus.Server.Cluster;
using Stratus.Server.Datasets;
using Stratus.Server.Jobs;
using Stratus.Server.Kernel;
using Stratus.Server.Monitoring;
using Stratus.Server.Security;
using Stratus.Server.Serving;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Hosting;

/// <summary>
/// Every setting of a node, one validated class per capability, all bound from the one <c>Stratus</c> configuration
/// section (<c>STRATUS_</c>-prefixed environment variables, appsettings.json, the command line): a setting's name is
/// flat (<c>Stratus:WorkerSlots</c>, <c>STRATUS_WORKERSLOTS</c>) whichever class holds it. Each capability's services
/// take only their own class; <c>docs/settings.md</c> lists every setting with its default.
/// </summary>
public sealed class StratusOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Stratus";

    public HostSettings Host { get; init; } = new();
    public StorageSettings Storage { get; init; } = new();
    public DataSettings Data { get; init; } = new();
    public JobSettings Jobs { get; init; } = new();
    public TrackingSettings Tracking { get; init; } = new();
    public ServingSettings Serving { get; init; } = new();
    public MonitoringSettings Monitoring { get; init; } = new();
    public SecuritySettings Security { get; init; } = new();
    public ClusterSettings Cluster { get; init; } = new();

    /// <summary>The settings classes, in the order <c>docs/settings.md</c> lists them.</summary>
    public IReadOnlyList<object> Parts => [Host, Storage, Data, Jobs, Tracking, Serving, Monitoring, Security, Cluster];

    /// <summary>Binds every class from the <c>Stratus</c> section.</summary>
    public static StratusOptions Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        return new StratusOptions
        {
            Host = section.Get<HostSettings>() ?? new(),
            Storage = section.Get<StorageSettings>() ?? new(),
            Data = section.Get<DataSettings>() ?? new(),
            Jobs = section.Get<JobSettings>() ?? new(),
            Tracking = section.Get<TrackingSettings>() ?? new(),
            Serving = section.Get<ServingSettings>() ?? new(),
            Monitoring = section.Get<MonitoringSettings>() ?? new(),
            Security = section.Get<SecuritySettings>() ?? new(),
            Cluster = section.Get<ClusterSettings>() ?? new(),
        };
    }

    /// <summary>Every out-of-range setting of every class, each naming the setting.</summary>
    public IReadOnlyList<string> Problems() =>
    [
        .. Host.Problems(), .. Storage.Problems(), .. Data.Problems(), .. Jobs.Problems(), .. Tracking.Problems(),
        .. Serving.Problems(), .. Monitoring.Problems(), .. Security.Problems(), .. Cluster.Problems(Storage.Database),
    ];

    /// <summary>Refuses to start, in one line, on any out-of-range setting; makes the data directory absolute.</summary>
    public StratusOptions Checked()
    {
        if (Problems() is { Count: > 0 } problems) throw new StartupException(string.Join("; ", problems));
        Storage.DataDir = Path.GetFullPath(Storage.DataDir);
        return this;
    }

    /// <summary>Registers each class on its own, for the services of its capability, and this whole.</summary>
    public void Register(IServiceCollection services)
    {
        services.AddSingleton(this);
        services.AddSingleton(Host);
        services.AddSingleton(Storage);
        services.AddSingleton(Data);
        services.AddSingleton(Jobs);
        services.AddSingleton(Tracking);
        services.AddSingleton(Serving);
        services.AddSingleton(Monitoring);
        services.AddSingleton(Security);
        services.AddSingleton(Cluster);
        services.AddSingleton(new JobProcessEnvironment(Environment()));
    }

    /// <summary>Every setting as the <c>STRATUS_*</c> variable a process reads (a job process gets its node's settings this way).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment()
    {
        var variables = new List<KeyValuePair<string, string>>();
        foreach (var part in Parts)
        {
            foreach (var property in part.GetType().GetProperties())
            {
                if (!property.CanWrite || property.GetValue(part) is not { } value) continue;
                var text = value switch
                {
                    TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => value.ToString()!,
                };
                variables.Add(new("STRATUS_" + property.Name.ToUpperInvariant(), text));
            }
        }
        return variables;
    }
}
