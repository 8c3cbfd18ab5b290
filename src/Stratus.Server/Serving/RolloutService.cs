using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Cluster;
using Stratus.Server.Kernel;
using Stratus.Server.Security;
using Stratus.Server.Storage;

namespace Stratus.Server.Serving;

/// <summary>The counters of a rollout's two versions when its current step began (in memory: a restart judges from the next interval).</summary>
public sealed class RolloutBaselines
{
    private readonly ConcurrentDictionary<long, (StatsSnapshot New, StatsSnapshot Old)> _byRollout = new();

    public bool TryGet(long rollout, out (StatsSnapshot New, StatsSnapshot Old) baseline) => _byRollout.TryGetValue(rollout, out baseline);

    public void Set(long rollout, (StatsSnapshot New, StatsSnapshot Old) baseline) => _byRollout[rollout] = baseline;

    public void Remove(long rollout) => _byRollout.TryRemove(rollout, out _);
}

/// <summary>
/// Gradual rollouts: a new version starts with a canary share of an endpoint's traffic, gains a step after every
/// interval in which it answered enough requests no worse than the old version (failure rate within the allowed
/// margin, p99 latency under the limit), and takes all the traffic at 100%; a version that breaks a threshold is
/// rolled back at once, with the evidence in the rollout and the audit log.
/// </summary>
public sealed class RolloutService(StratusDb db, EndpointService endpoints, ClusterCounters counters, RolloutBaselines baselines, IGrainFactory grains,
    TimeProvider clock)
{
    public async Task<RolloutInfo> StartAsync(string name, RolloutRequest request, CancellationToken ct)
    {
        if (request.Canary is < 1 or > 99) throw ProblemException.Invalid("canary", $"is {request.Canary}; the first share is 1 to 99 (percent)");
        if (request.Step is < 1 or > 100) throw ProblemException.Invalid("step", $"is {request.Step}; a step is 1 to 100 (percent)");
        if (request.IntervalSeconds is < 1 or > 86_400) throw ProblemException.Invalid("interval_seconds", $"is {request.IntervalSeconds}; an interval is 1 second to 1 day");
        if (request.MaxErrorRate is < 0 or > 1 || double.IsNaN(request.MaxErrorRate)) throw ProblemException.Invalid("max_error_rate", $"is {request.MaxErrorRate}; a share is 0 to 1");
        if (request.MaxP99Ms is <= 0 || request.MaxP99Ms is double p && double.IsNaN(p)) throw ProblemException.Invalid("max_p99_ms", $"is {request.MaxP99Ms}; a latency limit is above 0 ms");
        if (request.MinRequests < 1) throw ProblemException.Invalid("min_requests", $"is {request.MinRequests}; at least one request must be judged");
        var endpoint = await endpoints.GetAsync(name, ct);
        if (await db.Rollouts.AsNoTracking().FirstOrDefaultAsync(r => r.Endpoint == name && r.Status == "running", ct) is { } running)
            throw ProblemException.Conflict($"endpoint '{name}' is already rolling out {running.ToName}:{running.ToVersion}; abort it first");
        if (endpoint.Traffic.Count != 1)
            throw ProblemException.Conflict($"endpoint '{name}' splits its traffic between {endpoint.Traffic.Count} versions; a rollout starts from one (deploy it first)");
        var from = endpoint.Traffic[0].Model;

        EndpointInfo routed;
        try
        {
            routed = await endpoints.SetTrafficAsync(name, new TrafficRequest([new(Ref(from), 100 - request.Canary), new(request.Model, request.Canary)], endpoint.Shadow?.ModelRef), ct);
        }
        catch (ProblemException ex) when (ex.Field == "versions[1].model")
        {
            throw ProblemException.Invalid("model", ex.Reason ?? ex.Message);
        }
        var to = routed.Traffic.First(t => t.Model != from).Model;
        var now = clock.GetUtcNow();
        var row = new RolloutRow
        {
            Endpoint = name, FromName = from.Name, FromVersion = from.Version, ToName = to.Name, ToVersion = to.Version, Canary = request.Canary,
            Step = request.Step, IntervalSeconds = request.IntervalSeconds, MaxErrorRate = request.MaxErrorRate, MaxP99Ms = request.MaxP99Ms,
            MinRequests = request.MinRequests, Weight = request.Canary, Status = "running", CreatedAt = now, UpdatedAt = now,
            NextAt = now.AddSeconds(request.IntervalSeconds),
        };
        db.Rollouts.Add(row);
        await db.SaveChangesAsync(ct);
        baselines.Set(row.Id, await SnapshotsAsync(row, ct));
        await grains.GetGrain<IRolloutGrain>(name).PokeAsync();
        return ToInfo(row);
    }

    /// <summary>The endpoint's latest rollout.</summary>
    public async Task<RolloutInfo> GetAsync(string name, CancellationToken ct)
    {
        await endpoints.GetAsync(name, ct); // 404 for an endpoint that does not exist
        var row = await db.Rollouts.AsNoTracking().Where(r => r.Endpoint == name).OrderByDescending(r => r.Id).FirstOrDefaultAsync(ct)
            ?? throw ProblemException.NotFound($"a rollout on endpoint '{name}'");
        return ToInfo(row);
    }

    /// <summary>Stops a running rollout: the old version takes all the traffic back.</summary>
    public async Task<RolloutInfo> AbortAsync(string name, CancellationToken ct)
    {
        await endpoints.GetAsync(name, ct);
        var row = await db.Rollouts.FirstOrDefaultAsync(r => r.Endpoint == name && r.Status == "running", ct)
            ?? throw ProblemException.NotFound($"a running rollout on endpoint '{name}'");
        await EndAsync(row, "aborted", "aborted by request", rollBack: true, ct);
        return ToInfo(row);
    }

    /// <summary>Judges the endpoint's running rollout when its interval has passed; false when none is running (any more).</summary>
    public async Task<bool> StepAsync(string endpoint, CancellationToken ct)
    {
        var row = await db.Rollouts.FirstOrDefaultAsync(r => r.Endpoint == endpoint && r.Status == "running", ct);
        if (row is null) return false;
        var now = clock.GetUtcNow();
        if (row.NextAt <= now) await StepAsync(row, now, ct);
        return row.Status == "running";
    }

    /// <summary>The endpoints with a running rollout (their grains are woken when a node starts).</summary>
    public Task<List<string>> RunningAsync(CancellationToken ct) => db.Rollouts.AsNoTracking().Where(r => r.Status == "running").Select(r => r.Endpoint).ToListAsync(ct);

    private async Task StepAsync(RolloutRow row, DateTimeOffset now, CancellationToken ct)
    {
        EndpointInfo endpoint;
        try
        {
            endpoint = await endpoints.GetAsync(row.Endpoint, ct);
        }
        catch (ProblemException ex) when (ex.Status == 404)
        {
            await EndAsync(row, "aborted", "the endpoint was deleted", rollBack: false, ct);
            return;
        }
        var from = new ModelVersionRef(row.FromName, row.FromVersion);
        var to = new ModelVersionRef(row.ToName, row.ToVersion);
        if (!endpoint.Traffic.Select(t => (t.Model, t.Weight)).ToHashSet().SetEquals([(from, 100 - row.Weight), (to, row.Weight)]))
        {
            await EndAsync(row, "superseded", "the endpoint's traffic was changed by hand", rollBack: false, ct);
            return;
        }

        var current = await SnapshotsAsync(row, ct);
        row.NextAt = now.AddSeconds(row.IntervalSeconds);
        row.UpdatedAt = now;
        if (!baselines.TryGet(row.Id, out var baseline))
        {
            // After a restart the counters start again: judge from the next interval on.
            baselines.Set(row.Id, current);
            await db.SaveChangesAsync(ct);
            return;
        }
        var requests = current.New.Requests - baseline.New.Requests;
        if (requests < 0 || current.Old.Requests < baseline.Old.Requests)
        {
            // A dead node's counters were removed from the sums: judge from here on.
            baselines.Set(row.Id, current);
            await db.SaveChangesAsync(ct);
            return;
        }
        if (requests < row.MinRequests)
        {
            await db.SaveChangesAsync(ct); // too little evidence: the step waits, the counts go on adding up
            return;
        }
        var failed = Failures(current.New) - Failures(baseline.New);
        var oldRequests = current.Old.Requests - baseline.Old.Requests;
        var oldFailed = Failures(current.Old) - Failures(baseline.Old);
        var rate = (double)failed / requests;
        var oldRate = oldRequests > 0 ? (double)oldFailed / oldRequests : 0;
        // Every change of the traffic below is made only on the endpoint as judged: an abort, a deploy or a change by
        // hand that landed meanwhile (from any server) wins, and the next step sees it.
        var judged = endpoint.UpdatedAt;
        try
        {
            if (rate - oldRate > row.MaxErrorRate)
            {
                await EndAsync(row, "rolled_back", string.Create(CultureInfo.InvariantCulture,
                    $"{to.Name}:{to.Version} failed {failed} of {requests} requests ({rate * 100:F1}%) against {oldRate * 100:F1}% for {from.Name}:{from.Version}; allowed: {row.MaxErrorRate * 100:F1} points more"),
                    rollBack: true, ct, judged);
                return;
            }
            if (row.MaxP99Ms is { } limit && current.New.Quantile(baseline.New, 0.99) is { } p99 && p99 * 1000 > limit)
            {
                await EndAsync(row, "rolled_back", string.Create(CultureInfo.InvariantCulture,
                    $"{to.Name}:{to.Version} answered 1% of {requests} requests in more than {p99 * 1000:G4} ms; allowed: p99 up to {limit:G4} ms"), rollBack: true, ct, judged);
                return;
            }

            var weight = Math.Min(100, row.Weight + row.Step);
            if (weight == 100)
            {
                await endpoints.SetTrafficAsync(row.Endpoint, new TrafficRequest([new(Ref(to), 100)], endpoint.Shadow?.ModelRef), ct, judged);
                row.Weight = weight;
                await EndAsync(row, "completed", $"{to.Name}:{to.Version} takes all the traffic", rollBack: false, ct);
                return;
            }
            await endpoints.SetTrafficAsync(row.Endpoint, new TrafficRequest([new(Ref(from), 100 - weight), new(Ref(to), weight)], endpoint.Shadow?.ModelRef), ct, judged);
            row.Weight = weight;
        }
        catch (ProblemException ex) when (ex.Status == StatusCodes.Status409Conflict)
        {
            return; // changed meanwhile: nothing of this step is saved
        }
        baselines.Set(row.Id, await SnapshotsAsync(row, ct));
        await db.SaveChangesAsync(ct);
    }

    private async Task EndAsync(RolloutRow row, string status, string reason, bool rollBack, CancellationToken ct, DateTimeOffset? unchangedSince = null)
    {
        if (rollBack)
        {
            var shadow = (await endpoints.GetAsync(row.Endpoint, ct)).Shadow?.ModelRef;
            await endpoints.SetTrafficAsync(row.Endpoint, new TrafficRequest([new($"{row.FromName}:{row.FromVersion}", 100)], shadow), ct, unchangedSince);
            row.Weight = 0;
        }
        row.Status = status;
        row.Reason = reason;
        row.UpdatedAt = clock.GetUtcNow();
        if (status == "rolled_back")
        {
            // The evidence goes to the audit log with the decision.
            db.Audit.Add(new AuditRow
            {
                Time = row.UpdatedAt, Actor = "stratus:rollout", Method = "POST", Path = $"/api/v1/endpoints/{row.Endpoint}/rollout",
                Status = 200, Outcome = "ok", Detail = $"rolled back: {reason}",
            });
        }
        await db.SaveChangesAsync(ct);
        baselines.Remove(row.Id);
    }

    /// <summary>The two versions' counters on every node of the cluster.</summary>
    private async Task<(StatsSnapshot New, StatsSnapshot Old)> SnapshotsAsync(RolloutRow row, CancellationToken ct) =>
        (await counters.ForAsync(row.Endpoint, new ModelVersionRef(row.ToName, row.ToVersion), "live", ct),
         await counters.ForAsync(row.Endpoint, new ModelVersionRef(row.FromName, row.FromVersion), "live", ct));

    // A version that refuses requests the old one took (another signature) fails them as surely as one that throws.
    private static long Failures(StatsSnapshot s) => s.Errors + s.Rejected;

    private static string Ref(ModelVersionRef v) => $"{v.Name}:{v.Version}";

    private static RolloutInfo ToInfo(RolloutRow r) => new(r.Id, r.Endpoint, new ModelVersionRef(r.FromName, r.FromVersion), new ModelVersionRef(r.ToName, r.ToVersion),
        r.Weight, r.Status, r.Reason, new RolloutRequest($"{r.ToName}:{r.ToVersion}", r.Canary, r.Step, r.IntervalSeconds, r.MaxErrorRate, r.MaxP99Ms, r.MinRequests),
        r.CreatedAt, r.UpdatedAt);
}

/// <summary>An endpoint's rollout stepper: one activation per endpoint in the cluster, so one endpoint's slow step never delays another's.</summary>
public interface IRolloutGrain : IGrainWithStringKey
{
    /// <summary>Starts stepping the endpoint's rollout (idempotent): until it ends, it goes on across the death of the node that holds it.</summary>
    Task PokeAsync();
}

internal sealed class RolloutGrain(IServiceScopeFactory scopes, ServingSettings options, ClusterSettings cluster, ILogger<RolloutGrain> logger)
    : RemindedGrain(cluster, logger), IRolloutGrain
{
    protected override TimeSpan Period => options.RolloutTick;

    public Task PokeAsync() => KeepAsync();

    protected override async Task<bool> WorkAsync(CancellationToken ct)
    {
        await using var scope = EndpointScope.Create(scopes, this.GetPrimaryKeyString());
        return await scope.ServiceProvider.GetRequiredService<RolloutService>().StepAsync(this.GetPrimaryKeyString(), ct);
    }
}
