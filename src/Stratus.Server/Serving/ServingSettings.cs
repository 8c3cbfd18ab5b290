using Stratus.Server.Kernel;

namespace Stratus.Server.Serving;

/// <summary>How a node serves endpoints (bound from the <c>Stratus</c> section; see <see cref="Hosting.StratusOptions"/>).</summary>
public sealed class ServingSettings
{
    /// <summary>
    /// Model packages kept in memory for serving, in bytes as stored; beyond it the least recently used are unloaded
    /// (their endpoints load them again on the next request). Default: 4 GiB.
    /// </summary>
    public long ModelCacheBytes { get; set; } = 4L << 30;

    /// <summary>Requests an endpoint scores at once unless it sets its own limit. Default: 4 per core.</summary>
    public int EndpointMaxConcurrency { get; set; } = 4 * Environment.ProcessorCount;

    /// <summary>Requests an endpoint lets wait for a turn unless it sets its own limit; more get 429. Default: 256.</summary>
    public int EndpointMaxQueue { get; set; } = 256;

    /// <summary>How often each endpoint replica checks whether it is still needed. Default: 1 second.</summary>
    public TimeSpan ReplicaTick { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long captured requests are kept, in days. Default: 30.</summary>
    public int CaptureRetentionDays { get; set; } = 30;

    /// <summary>How often running rollouts are checked for a step that is due. Default: 1 second.</summary>
    public TimeSpan RolloutTick { get; set; } = TimeSpan.FromSeconds(1);

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        problems.AtLeast(nameof(ModelCacheBytes), ModelCacheBytes, 1);
        problems.AtLeast(nameof(EndpointMaxConcurrency), EndpointMaxConcurrency, 1);
        problems.AtLeast(nameof(EndpointMaxQueue), EndpointMaxQueue, 0);
        problems.AtLeast(nameof(CaptureRetentionDays), CaptureRetentionDays, 1);
        problems.Positive(nameof(ReplicaTick), ReplicaTick);
        problems.Positive(nameof(RolloutTick), RolloutTick);
        return problems;
    }
}
