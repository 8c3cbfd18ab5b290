using Stratus.Server.Kernel;

namespace Stratus.Server.Monitoring;

/// <summary>How a node checks policies and calls their webhooks (bound from the <c>Stratus</c> section; see <see cref="Hosting.StratusOptions"/>).</summary>
public sealed class MonitoringSettings
{
    /// <summary>How often monitoring policies are checked for a scheduled check that is due, and retrainings for a job that ended. Default: 5 seconds.</summary>
    public TimeSpan MonitorTick { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Hosts that policy webhooks may call, separated by ';' (<c>hooks.slack.com;*.example.com</c>). Default: none, meaning
    /// any host whose addresses are public.
    /// </summary>
    public string WebhookHosts { get; set; } = "";

    /// <summary>Whether webhooks may reach loopback, private, link-local and other non-public addresses. Default: false.</summary>
    public bool WebhookAllowPrivate { get; set; }

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        problems.Positive(nameof(MonitorTick), MonitorTick);
        return problems;
    }
}
