using System.Net;
using Stratus.Server.Kernel;

namespace Stratus.Server.Cluster;

/// <summary>How a node joins others (bound from the <c>Stratus</c> section; see <see cref="Hosting.StratusOptions"/>).</summary>
public sealed class ClusterSettings
{
    /// <summary>
    /// The cluster's name: nodes started with the same name on the same PostgreSQL database form one Orleans cluster
    /// (membership and reminders in that database). Default: none, meaning one node on its own (an Orleans silo on
    /// loopback, reminders in memory), which is what <c>stratus up</c> runs.
    /// </summary>
    public string? Cluster { get; set; }

    /// <summary>The address other nodes reach this node's silo at. Default: this host's first IPv4 address (cluster mode only).</summary>
    public string? AdvertiseAddress { get; set; }

    /// <summary>
    /// How often the reminders that keep rollouts, policies and the run reaper alive fire: after the death of the node
    /// that held one, its work resumes on a survivor within about this long after Orleans declares the node dead.
    /// Default: 10 seconds. Below Orleans' advised minute (it logs a warning): a firing costs a message to an active
    /// grain and no database write, and a few per endpoint are what a rollout that must not stall for a minute needs.
    /// </summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a node reports itself (the nodes page) and its serving counters (summed by rollouts and traffic charts). Default: 1 second.</summary>
    public TimeSpan NodeReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a silo may leave a probe unanswered before another counts it missed; three misses and Orleans declares
    /// it dead and its grains move. Default: 2 seconds (Orleans' own is 5, about 15 s to a declaration).
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Orleans silo-to-silo port (open it between a cluster's servers). Default: 0, meaning the first free port from 11111 on.</summary>
    public int SiloPort { get; set; }

    /// <summary>Orleans gateway port of a server on its own (a cluster's silos open none: nothing talks Orleans to them from outside). Default: 0, meaning the first free port from 30000 on.</summary>
    public int GatewayPort { get; set; }

    /// <summary>Whether this node is one of several sharing a database.</summary>
    public bool Clustered => Cluster is not null;

    /// <summary>The settings that are out of range (see <see cref="SettingProblems"/>), given the node's database provider.</summary>
    public SettingProblems Problems(string database)
    {
        var problems = new SettingProblems();
        if (Cluster is { } name)
        {
            if (name.Length is 0 or > 100 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                problems.Add($"Stratus:Cluster is '{name}'; a cluster name is 1 to 100 letters, digits, '-', '_' or '.'");
            if (!string.Equals(database, "postgres", StringComparison.OrdinalIgnoreCase))
                problems.Add($"Stratus:Cluster is set but Stratus:Database is '{database}'; the nodes of a cluster meet in PostgreSQL (--database postgres --connection-string ...)");
        }
        if (AdvertiseAddress is { } address && !IPAddress.TryParse(address, out _))
            problems.Add($"Stratus:AdvertiseAddress is '{address}'; it must be an IP address");
        if (ReminderPeriod < TimeSpan.FromSeconds(1)) problems.Add($"Stratus:ReminderPeriod is {ReminderPeriod}; it must be at least 1 second");
        problems.Positive(nameof(NodeReportInterval), NodeReportInterval);
        problems.Positive(nameof(ProbeTimeout), ProbeTimeout);
        if (SiloPort is < 0 or > 65535) problems.Add($"Stratus:SiloPort is {SiloPort}; it must be a port (0 for the first free one from 11111)");
        if (GatewayPort is < 0 or > 65535) problems.Add($"Stratus:GatewayPort is {GatewayPort}; it must be a port (0 for the first free one from 30000)");
        return problems;
    }
}
