using Stratus.Server.Kernel;

namespace Stratus.Server.Tracking;

/// <summary>How a node looks after runs (bound from the <c>Stratus</c> section; see <see cref="Hosting.StratusOptions"/>).</summary>
public sealed class TrackingSettings
{
    /// <summary>How often runs are checked for missed heartbeats (a run whose writer died is marked failed). Default: 30 seconds.</summary>
    public TimeSpan RunReaperInterval { get; set; } = TimeSpan.FromSeconds(30);

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        problems.Positive(nameof(RunReaperInterval), RunReaperInterval);
        return problems;
    }
}
