using Stratus.Server.Cluster;

namespace Stratus.Server.Tests;

/// <summary>A node refuses to start on cluster settings it cannot use, naming the setting and what it must be.</summary>
public sealed class ClusterSettingsTests
{
    [Fact]
    public void Should_refuse_a_cluster_without_postgres_a_bad_name_or_address_and_too_short_periods()
    {
        Assert.Empty(new ClusterSettings().Problems("sqlite"));
        Assert.Empty(new ClusterSettings { Cluster = "prod-1", AdvertiseAddress = "10.0.0.11" }.Problems("postgres"));

        var sqlite = Assert.Single(new ClusterSettings { Cluster = "prod" }.Problems("sqlite"));
        Assert.Contains("Stratus:Database is 'sqlite'", sqlite, StringComparison.Ordinal);
        Assert.Contains("--database postgres", sqlite, StringComparison.Ordinal);

        var problems = new ClusterSettings
        {
            Cluster = "my cluster", AdvertiseAddress = "node-1.internal", ReminderPeriod = TimeSpan.FromMilliseconds(100),
            NodeReportInterval = TimeSpan.Zero, ProbeTimeout = TimeSpan.FromSeconds(-1),
        }.Problems("postgres");
        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("Stratus:Cluster is 'my cluster'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:AdvertiseAddress is 'node-1.internal'; it must be an IP address", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:ReminderPeriod", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:NodeReportInterval", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:ProbeTimeout", StringComparison.Ordinal));
    }
}
