using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Stratus.Server.Datasets;
using Stratus.Server.Jobs;
using Stratus.Server.Registry;
using Stratus.Server.Security;
using Stratus.Server.Serving;
using Stratus.Server.Tracking;

namespace Stratus.Server.Storage;

/// <summary>
/// The metadata database, the system of record. Rows here are not wire entities: each API maps them. One model, one
/// context per provider (<see cref="SqliteStratusDb"/>, <see cref="PostgresStratusDb"/>), each with its own migrations
/// folder, so that each provider's baseline and hand-written SQL (the audit triggers) are its own.
/// </summary>
public abstract class StratusDb(DbContextOptions options) : DbContext(options)
{
    public DbSet<BlobRow> Blobs => Set<BlobRow>();
    public DbSet<DatasetRow> Datasets => Set<DatasetRow>();
    public DbSet<DatasetVersionRow> DatasetVersions => Set<DatasetVersionRow>();
    public DbSet<ExperimentRow> Experiments => Set<ExperimentRow>();
    public DbSet<RunRow> Runs => Set<RunRow>();
    public DbSet<RunParamRow> RunParams => Set<RunParamRow>();
    public DbSet<RunTagRow> RunTags => Set<RunTagRow>();
    public DbSet<MetricRow> Metrics => Set<MetricRow>();
    public DbSet<RunInputRow> RunInputs => Set<RunInputRow>();
    public DbSet<ArtifactRow> Artifacts => Set<ArtifactRow>();
    public DbSet<ModelRow> Models => Set<ModelRow>();
    public DbSet<ModelVersionRow> ModelVersions => Set<ModelVersionRow>();
    public DbSet<ModelAliasRow> ModelAliases => Set<ModelAliasRow>();
    public DbSet<ModelAliasEventRow> ModelAliasEvents => Set<ModelAliasEventRow>();
    public DbSet<TokenRow> Tokens => Set<TokenRow>();
    public DbSet<UserRow> Users => Set<UserRow>();
    public DbSet<ProjectRow> Projects => Set<ProjectRow>();
    public DbSet<ProjectMemberRow> ProjectMembers => Set<ProjectMemberRow>();
    public DbSet<ProjectGrantRow> ProjectGrants => Set<ProjectGrantRow>();
    public DbSet<Security.SecretRow> Secrets => Set<Security.SecretRow>();
    public DbSet<AuditRow> Audit => Set<AuditRow>();
    public DbSet<JobRow> Jobs => Set<JobRow>();
    public DbSet<JobLogRow> JobLog => Set<JobLogRow>();
    public DbSet<JobPartRow> JobParts => Set<JobPartRow>();
    public DbSet<EndpointRow> Endpoints => Set<EndpointRow>();
    public DbSet<EndpointVersionRow> EndpointVersions => Set<EndpointVersionRow>();
    public DbSet<RolloutRow> Rollouts => Set<RolloutRow>();
    public DbSet<Monitoring.DriftReportRow> DriftReports => Set<Monitoring.DriftReportRow>();
    public DbSet<Monitoring.FeedbackRow> Feedback => Set<Monitoring.FeedbackRow>();
    public DbSet<Monitoring.BaselineRow> Baselines => Set<Monitoring.BaselineRow>();
    public DbSet<Monitoring.PolicyRow> Policies => Set<Monitoring.PolicyRow>();
    public DbSet<Monitoring.DecisionRow> Decisions => Set<Monitoring.DecisionRow>();
    public DbSet<CaptureFileRow> CaptureFiles => Set<CaptureFileRow>();
    public DbSet<Cluster.NodeRow> Nodes => Set<Cluster.NodeRow>();
    public DbSet<Cluster.NodeCounterRow> NodeCounters => Set<Cluster.NodeCounterRow>();
    public DbSet<DataKeyRow> DataKeys => Set<DataKeyRow>();
    public DbSet<KeyEncryptionKeyRow> KeyEncryptionKeys => Set<KeyEncryptionKeyRow>();

    /// <summary>The project this context's unit of work is in (<see cref="ProjectScope"/>); set as the context is handed out.</summary>
    internal ProjectScope? Scope { get; set; }

    /// <summary>The project whose rows this context shows, or null: every project's (read by the query filters).</summary>
    public string? CurrentProject => Scope?.Name;

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(StratusDb).Assembly);
        ColumnSealer.Apply(modelBuilder, this);
        var filter = typeof(StratusDb).GetMethod(nameof(FilterByProject), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        foreach (var entity in modelBuilder.Model.GetEntityTypes().Where(e => typeof(IProjectOwned).IsAssignableFrom(e.ClrType)).ToList())
            filter.MakeGenericMethod(entity.ClrType).Invoke(this, [modelBuilder]);
    }

    // Every project-owned row: its project's name (the default project's for rows older than projects), and the filter
    // that shows a scope only its project's rows.
    private void FilterByProject<T>(ModelBuilder modelBuilder) where T : class, IProjectOwned
    {
        var entity = modelBuilder.Entity<T>();
        entity.Property(x => x.Project).HasMaxLength(Names.MaxLength).HasDefaultValue(Stratus.Projects.Default);
        entity.HasQueryFilter(x => CurrentProject == null || x.Project == CurrentProject);
    }

    /// <summary>A row added without a project gets the scope's; one added outside any scope must name its own.</summary>
    private void AssignProjects()
    {
        foreach (var entry in ChangeTracker.Entries<IProjectOwned>().Where(e => e.State == EntityState.Added))
        {
            if (!string.IsNullOrEmpty(entry.Entity.Project)) continue;
            entry.Entity.Project = CurrentProject is { Length: > 0 } project ? project
                : throw new InvalidOperationException($"a {entry.Metadata.ClrType.Name} was added outside any project");
        }
    }

    /// <summary>Whether metric points go in through PostgreSQL's binary COPY rather than prepared INSERTs.</summary>
    internal abstract bool BulkCopy { get; }

    /// <summary>
    /// Saves; new audit rows are first linked at the end of the audit chain (<see cref="AuditChain"/>), in a transaction
    /// (the caller's, or one of its own) that holds the chain's lock from reading its last hash to the insert.
    /// </summary>
    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        AssignProjects();
        var audit = ChangeTracker.Entries<AuditRow>().Where(e => e.State == EntityState.Added).Select(e => e.Entity).ToList();
        if (audit.Count == 0) return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
        var own = Database.CurrentTransaction is null ? await Database.BeginTransactionAsync(cancellationToken) : null;
        try
        {
            await LockAuditChainAsync(cancellationToken);
            var previous = await Audit.AsNoTracking().OrderByDescending(a => a.Id).Select(a => a.Hash).FirstOrDefaultAsync(cancellationToken);
            foreach (var row in audit) previous = AuditChain.Link(row, previous);
            var saved = await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
            if (own is not null) await own.CommitAsync(cancellationToken);
            return saved;
        }
        finally
        {
            if (own is not null) await own.DisposeAsync();
        }
    }

    /// <inheritdoc cref="SaveChangesAsync(bool, CancellationToken)"/>
    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        AssignProjects();
        return ChangeTracker.Entries<AuditRow>().Any(e => e.State == EntityState.Added)
            ? SaveChangesAsync(acceptAllChangesOnSuccess).GetAwaiter().GetResult()
            : base.SaveChanges(acceptAllChangesOnSuccess);
    }

    /// <summary>Makes writers of audit rows take turns at the chain's end, within the current transaction.</summary>
    private protected abstract Task LockAuditChainAsync(CancellationToken ct);
}

/// <summary>The embedded metadata database: a SQLite file in the data directory.</summary>
public sealed class SqliteStratusDb(DbContextOptions<SqliteStratusDb> options) : StratusDb(options)
{
    internal override bool BulkCopy => false;

    // A SQLite transaction begins IMMEDIATE (Microsoft.Data.Sqlite's default): it holds the one write lock from its start.
    private protected override Task LockAuditChainAsync(CancellationToken ct) => Task.CompletedTask;

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite cannot order or compare DateTimeOffset; all times are UTC, stored as Unix milliseconds.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UnixMillisecondsConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<UnixMillisecondsConverter>();
    }

    private sealed class UnixMillisecondsConverter() : ValueConverter<DateTimeOffset, long>(
        v => v.ToUnixTimeMilliseconds(),
        v => DateTimeOffset.FromUnixTimeMilliseconds(v));
}

/// <summary>The cluster's metadata database: PostgreSQL, times as <c>timestamptz</c>.</summary>
public sealed class PostgresStratusDb(DbContextOptions<PostgresStratusDb> options) : StratusDb(options)
{
    internal override bool BulkCopy => true;

    // The advisory lock that orders writers of the audit chain, held until the transaction ends: 0x5354524154555301
    // ("STRATUS", 1).
    private protected override Task LockAuditChainAsync(CancellationToken ct) =>
        Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock(6004514643732943617)", ct);

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // timestamptz holds an instant; Npgsql writes only offset-zero values, and a time a client sent with its
        // own offset is the same instant in UTC. Kept to the millisecond, as SQLite keeps them: a time reads back the
        // same on both providers.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UtcMillisecondsConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<UtcMillisecondsConverter>();
    }

    private sealed class UtcMillisecondsConverter() : ValueConverter<DateTimeOffset, DateTimeOffset>(
        v => DateTimeOffset.FromUnixTimeMilliseconds(v.ToUnixTimeMilliseconds()),
        v => v.ToUniversalTime());
}

/// <summary>A blob in the content-addressed store. Referenced by dataset versions, artifacts and model versions.</summary>
public sealed class BlobRow
{
    public required string Sha256 { get; set; }
    public long Size { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class BlobRowConfiguration : IEntityTypeConfiguration<BlobRow>
{
    public void Configure(Microsoft.EntityFrameworkCore.Metadata.Builders.EntityTypeBuilder<BlobRow> b)
    {
        b.ToTable("blobs");
        b.HasKey(x => x.Sha256);
        b.Property(x => x.Sha256).HasMaxLength(64);
    }
}
