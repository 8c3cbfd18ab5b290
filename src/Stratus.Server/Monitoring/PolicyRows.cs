using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Monitoring;

/// <summary>An endpoint's monitoring policy (<see cref="MonitorPolicy"/> as JSON) and its schedule.</summary>
public sealed class PolicyRow
{
    public required string Endpoint { get; set; }
    public required string PolicyJson { get; set; }
    public DateTimeOffset? NextCheckAt { get; set; }
    public DateTimeOffset? LastCheckAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>A policy check and what came of it (<see cref="PolicyDecision"/>); a retraining one moves on as its job does.</summary>
public sealed class DecisionRow
{
    public long Id { get; set; }
    public required string Endpoint { get; set; }
    public required string Trigger { get; set; }
    public required string Status { get; set; }
    public required string ReasonsJson { get; set; }
    public required string ChampionName { get; set; }
    public int ChampionVersion { get; set; }
    public int? ChallengerVersion { get; set; }
    public long? DriftReportId { get; set; }
    public string? JobId { get; set; }
    public string? TrainingData { get; set; }
    public string? Holdout { get; set; }
    public string? Metric { get; set; }
    public string ScoresJson { get; set; } = "{}";
    public long? RolloutId { get; set; }
    public string AlertsJson { get; set; } = "[]";

    /// <summary>The policy as it was when the check ran: a retraining is finished by the rules it started under.</summary>
    public required string PolicyJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class PolicyRowConfiguration : IEntityTypeConfiguration<PolicyRow>, IEntityTypeConfiguration<DecisionRow>
{
    public void Configure(EntityTypeBuilder<PolicyRow> b)
    {
        b.ToTable("monitor_policies");
        b.HasKey(x => x.Endpoint);
    }

    public void Configure(EntityTypeBuilder<DecisionRow> b)
    {
        b.ToTable("policy_decisions");
        b.HasIndex(x => new { x.Endpoint, x.Id });
        b.HasIndex(x => x.Status);
    }
}
