using System.Globalization;
using System.Text;
using System.Text.Json;
using Cronos;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Data;
using Stratus.Ml.Drift;
using Stratus.Ml.Inference;
using Stratus.Ml.Training;
using Stratus.Server.Datasets;
using Stratus.Server.Kernel;
using Stratus.Server.Jobs;
using Stratus.Server.Registry;
using Stratus.Server.Security;
using Stratus.Server.Serving;
using Stratus.Server.Storage;

namespace Stratus.Server.Monitoring;

/// <summary>
/// Continuous learning: an endpoint's policy checks drift and live performance on a schedule or on demand; when a
/// trigger fires it alerts, retrains on the latest version of the champion's training data (split into a training part
/// and a holdout, optionally with labelled feedback added), scores champion and challenger on that same holdout, and
/// promotes the challenger (alias moved, canary rollout) only when it is better by the margin. Every check is a
/// decision row with its evidence; a retraining decision moves on as its job does (<see cref="AdvanceAsync"/>).
/// </summary>
public sealed partial class PolicyService(StratusDb db, EndpointService endpoints, RegistryService registry, DatasetService datasets, JobService jobs,
    MonitoringService monitoring, FeedbackService feedback, RolloutService rollouts, Webhooks webhooks, Security.SecretService secrets, IBlobStore blobs, ModelCache models,
    TimeProvider clock, ILogger<PolicyService> logger)
{
    /// <summary>The share of the latest data held out to judge champion and challenger, percent.</summary>
    public const int HoldoutPercent = 20;

    private const string Actor = "stratus:policy";

    public async Task<MonitorPolicyInfo> SetAsync(string endpoint, MonitorPolicy policy, CancellationToken ct)
    {
        await endpoints.GetAsync(endpoint, ct);
        Validate(policy);
        for (var i = 0; i < (policy.Webhooks?.Count ?? 0); i++)
        {
            if (Security.SecretService.Reference(policy.Webhooks![i]) is { } secret) await secrets.RequireAsync($"webhooks[{i}]", secret, ct);
        }
        var now = clock.GetUtcNow();
        var row = await db.Policies.FindAsync([endpoint], ct);
        if (row is null) db.Policies.Add(row = new PolicyRow { Endpoint = endpoint, PolicyJson = "" });
        row.PolicyJson = JsonSerializer.Serialize(policy, StratusJsonContext.Default.MonitorPolicy);
        row.NextCheckAt = NextOccurrence(policy.Schedule, now);
        row.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
        return ToInfo(row);
    }

    public async Task<MonitorPolicyInfo> GetAsync(string endpoint, CancellationToken ct) => ToInfo(await FindAsync(endpoint, ct));

    public async Task DeleteAsync(string endpoint, CancellationToken ct)
    {
        db.Policies.Remove(await FindAsync(endpoint, ct));
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The endpoint's decisions, newest first.</summary>
    public async Task<IReadOnlyList<PolicyDecision>> DecisionsAsync(string endpoint, int limit, CancellationToken ct)
    {
        await endpoints.GetAsync(endpoint, ct);
        if (limit is < 1 or > 1000) throw ProblemException.Invalid("limit", $"is {limit}; 1 to 1,000 decisions");
        var rows = await db.Decisions.AsNoTracking().Where(d => d.Endpoint == endpoint).OrderByDescending(d => d.Id).Take(limit).ToListAsync(ct);
        return [.. rows.Select(ToDecision)];
    }

    public async Task<PolicyDecision> DecisionAsync(long id, CancellationToken ct) =>
        ToDecision(await db.Decisions.AsNoTracking().FirstAsync(d => d.Id == id, ct));

    /// <summary>
    /// Runs the endpoint's policy now: checks its triggers and acts on them. While a retraining of the endpoint is under
    /// way, that decision is returned and nothing new is started.
    /// </summary>
    public async Task<PolicyDecision> CheckAsync(string endpoint, string trigger, CancellationToken ct)
    {
        var row = await FindAsync(endpoint, ct);
        var policy = Policy(row.PolicyJson);
        row.LastCheckAt = clock.GetUtcNow();
        if (trigger == "schedule") row.NextCheckAt = NextOccurrence(policy.Schedule, row.LastCheckAt.Value);
        await db.SaveChangesAsync(ct);
        if (await db.Decisions.Where(d => d.Endpoint == endpoint && d.Status == "retraining").OrderByDescending(d => d.Id).FirstOrDefaultAsync(ct) is { } running)
            return ToDecision(running);

        var info = await endpoints.GetAsync(endpoint, ct);
        var decision = new DecisionRow
        {
            Endpoint = endpoint, Trigger = trigger, Status = "ok", ReasonsJson = "[]", ChampionName = info.Model.Name, ChampionVersion = info.Model.Version,
            PolicyJson = row.PolicyJson, CreatedAt = clock.GetUtcNow(), UpdatedAt = clock.GetUtcNow(),
        };
        var reasons = new List<string>();
        bool fired = false, judged = false;
        try
        {
            if (policy.Drift is { } driftRule)
            {
                var report = await monitoring.CheckDriftAsync(endpoint, new DriftCheckRequest(policy.WindowMinutes, policy.Rules, policy.MinRows), ct);
                decision.DriftReportId = report.Id;
                var (drifted, why) = Drifted(ParseDrift(driftRule)!.Value, report);
                if (report.Status != "insufficient_data") judged = true;
                fired |= drifted;
                reasons.AddRange(why);
            }
            if (policy.Metric is { } metricRule)
            {
                var (metric, op, threshold) = ParseMetric(metricRule)!.Value;
                var performance = await feedback.PerformanceAsync(endpoint, policy.WindowMinutes, 1, ct);
                var window = performance.Windows[0];
                if (window.Labelled < policy.MinRows || !window.Metrics.TryGetValue(metric, out var value))
                {
                    reasons.Add($"{metric}: {window.Labelled:N0} labelled predictions in the window, fewer than {policy.MinRows} (or no {metric}): insufficient data");
                }
                else
                {
                    judged = true;
                    var breached = op == '<' ? value < threshold : value > threshold;
                    fired |= breached;
                    reasons.Add($"{metric} {Format(value)} over {window.Labelled:N0} labelled predictions {(breached ? "breaks" : "keeps")} {metricRule}");
                }
            }
            decision.Status = fired ? "fired" : judged ? "ok" : "insufficient_data";
            if (fired && policy.Retrain is not null) await StartRetrainingAsync(decision, policy, reasons, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A check always leaves a decision. A trigger that fired but could not start its retraining is a failed retraining: the champion stays.
            decision.Status = fired ? "retrain_failed" : "error";
            reasons.Add(fired ? $"retraining could not start: {ex.Message}; {decision.ChampionName}:{decision.ChampionVersion} stays" : $"the check failed: {ex.Message}");
            if (ex is not ProblemException) LogCheckError(logger, endpoint, ex);
        }
        decision.ReasonsJson = Json(reasons);
        db.Decisions.Add(decision);
        await db.SaveChangesAsync(ct);
        var alert = decision.Status switch { "fired" or "retraining" => "policy_fired", "retrain_failed" => "retrain_failed", "error" => "check_failed", _ => null };
        if (alert is not null) await AlertAsync(decision, policy, alert, ct);
        LogDecision(logger, endpoint, decision.Status, reasons.Count > 0 ? reasons[^1] : "no trigger set");
        return ToDecision(decision);
    }

    /// <summary>
    /// Checks the endpoint's policy when its scheduled time has come and moves on its retrainings whose job ended;
    /// false when it has no policy and no retraining left to watch.
    /// </summary>
    public async Task<bool> TickAsync(string endpoint, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var policy = await db.Policies.AsNoTracking().Where(p => p.Endpoint == endpoint).Select(p => new { p.NextCheckAt }).FirstOrDefaultAsync(ct);
        if (policy?.NextCheckAt is { } next && next <= now) await CheckAsync(endpoint, "schedule", ct);
        var retraining = await db.Decisions.Where(d => d.Endpoint == endpoint && d.Status == "retraining").Select(d => d.Id).ToListAsync(ct);
        foreach (var id in retraining) await AdvanceAsync(id, ct);
        return policy is not null || await db.Decisions.AnyAsync(d => d.Endpoint == endpoint && d.Status == "retraining", ct);
    }

    /// <summary>The endpoints with a policy or a retraining under way (their grains are woken when a node starts).</summary>
    public async Task<List<string>> WatchedAsync(CancellationToken ct) =>
        [.. (await db.Policies.AsNoTracking().Select(p => p.Endpoint).ToListAsync(ct))
            .Union(await db.Decisions.AsNoTracking().Where(d => d.Status == "retraining").Select(d => d.Endpoint).ToListAsync(ct))];

    /// <summary>
    /// Moves a retraining decision on when its job has ended: a failed job keeps the champion (recorded and alerted); a
    /// finished one is judged on the holdout and promoted when better by the margin.
    /// </summary>
    public async Task AdvanceAsync(long id, CancellationToken ct)
    {
        var decision = await db.Decisions.FirstAsync(d => d.Id == id, ct);
        JobInfo? job;
        try
        {
            job = await jobs.GetAsync(decision.JobId!, ct);
        }
        catch (ProblemException ex) when (ex.Status == 404)
        {
            job = null;
        }
        if (job?.Status is JobStatus.Queued or JobStatus.Running) return;
        var policy = Policy(decision.PolicyJson);
        var reasons = JsonSerializer.Deserialize(decision.ReasonsJson, StratusJsonContext.Default.IReadOnlyListString)!.ToList();
        string alert;
        try
        {
            if (job is null)
            {
                decision.Status = "retrain_failed";
                reasons.Add($"retraining job {decision.JobId} no longer exists; {decision.ChampionName}:{decision.ChampionVersion} stays");
                alert = "retrain_failed";
            }
            else if (job.Status != JobStatus.Succeeded || job.Result?.Model is not { } challenger)
            {
                decision.Status = "retrain_failed";
                reasons.Add($"retraining job {job.Id} ended {job.Status}{(job.Error is null ? "" : $": {job.Error}")}; {decision.ChampionName}:{decision.ChampionVersion} stays");
                alert = "retrain_failed";
            }
            else
            {
                decision.ChallengerVersion = challenger.Version;
                alert = await JudgeAsync(decision, policy, challenger, reasons, ct);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            decision.Status = "error";
            reasons.Add($"judging or promoting the challenger failed: {ex.Message}; {decision.ChampionName}:{decision.ChampionVersion} stays");
            alert = "check_failed";
            if (ex is not ProblemException) LogCheckError(logger, decision.Endpoint, ex);
        }
        decision.ReasonsJson = Json(reasons);
        decision.UpdatedAt = clock.GetUtcNow();
        db.Audit.Add(new AuditRow
        {
            Time = decision.UpdatedAt, Actor = Actor, Method = "POST", Path = $"/api/v1/endpoints/{decision.Endpoint}/policy/decisions/{decision.Id}",
            Status = 200, Outcome = "ok", Detail = $"{decision.Status}: {reasons[^1]}",
        });
        // Told before the outcome is stored: whoever sees the decision end sees its deliveries too.
        await AlertAsync(decision, policy, alert, ct);
        LogDecision(logger, decision.Endpoint, decision.Status, reasons[^1]);
    }

    /// <summary>Scores champion and challenger on the holdout; promotes the challenger when the policy says so and it wins by the margin.</summary>
    private async Task<string> JudgeAsync(DecisionRow decision, MonitorPolicy policy, ModelVersionRef challenger, List<string> reasons, CancellationToken ct)
    {
        var championVersion = await registry.GetVersionAsync(new ModelRef(decision.ChampionName, decision.ChampionVersion, null), ct);
        var challengerVersion = await registry.GetVersionAsync(new ModelRef(challenger.Name, challenger.Version, null), ct);
        var holdout = await datasets.ResolveAsync(ParseDataset(decision.Holdout!), ct);
        var parquet = await blobs.GetLocalCopyAsync(holdout.ParquetSha256, ct);
        var temp = blobs.TempDirectory;
        var champion = await LoadAsync(championVersion.Sha256, ct);
        var candidate = await LoadAsync(challengerVersion.Sha256, ct);
        var task = champion.Manifest.Task;
        var metric = decision.Metric!;
        var (championMetrics, rows, _) = await Task.Run(() => BatchScorer.Evaluate(champion, parquet, temp, ct), ct);
        var (challengerMetrics, _, _) = await Task.Run(() => BatchScorer.Evaluate(candidate, parquet, temp, ct), ct);
        var (a, b) = (championMetrics.GetValueOrDefault(metric, double.NaN), challengerMetrics.GetValueOrDefault(metric, double.NaN));
        decision.ScoresJson = JsonSerializer.Serialize(new Dictionary<string, double> { ["champion"] = a, ["challenger"] = b }, StratusJsonContext.Default.DictionaryStringDouble);
        var lowerIsBetter = !MetricCatalog.HigherIsBetter(metric);
        var gain = lowerIsBetter ? a - b : b - a;
        var better = double.IsFinite(gain) && gain > policy.Margin;
        reasons.Add($"on the holdout {decision.Holdout} ({rows:N0} rows, {task}): {metric} champion {decision.ChampionName}:{decision.ChampionVersion} {Format(a)}, " +
            $"challenger {challenger.Name}:{challenger.Version} {Format(b)}; {(better ? "better" : "not better")} by more than the margin {Format(policy.Margin)}");
        if (!better || policy.Promote == "never")
        {
            decision.Status = "kept";
            reasons.Add(better ? $"promotion is off (promote: never); {decision.ChampionName}:{decision.ChampionVersion} stays" : $"{decision.ChampionName}:{decision.ChampionVersion} stays");
            return "kept";
        }
        // The rollout first: when it cannot start (another one is running), the alias stays where it was.
        var rollout = await rollouts.StartAsync(decision.Endpoint, new RolloutRequest($"{challenger.Name}:{challenger.Version}", policy.Canary, policy.Step, policy.IntervalSeconds), ct);
        await registry.SetAliasAsync(challenger.Name, policy.Alias, challenger.Version, ct, $"policy {decision.Endpoint}");
        decision.RolloutId = rollout.Id;
        decision.Status = "promoted";
        reasons.Add($"promoted: alias {policy.Alias} -> {challenger.Name}:{challenger.Version}; rollout {rollout.Id} starts it at {policy.Canary}% of {decision.Endpoint}'s traffic, " +
            $"{policy.Step}% more every {policy.IntervalSeconds} s, rolled back by itself if it fails more or answers slower");
        return "promoted";
    }

    // Loaded apart from the serving cache: judging must not evict or count as serving.
    private Task<ModelPackage> LoadAsync(string sha256, CancellationToken ct) => StoredPackages.LoadAsync(blobs, sha256, "the model version", ct);

    /// <summary>Prepares the data (latest version of the training dataset, with feedback if asked, split) and queues the job.</summary>
    private async Task StartRetrainingAsync(DecisionRow decision, MonitorPolicy policy, List<string> reasons, CancellationToken ct)
    {
        var champion = await registry.GetVersionAsync(new ModelRef(decision.ChampionName, decision.ChampionVersion, null), ct);
        if (champion.Lineage.Datasets.Count == 0)
            throw ProblemException.Conflict($"{champion.Name}:{champion.Version} names no training dataset (an imported model?); there is nothing to retrain on");
        var manifest = await models.ManifestAsync(blobs, champion.Sha256, ct);
        var baseName = await SourceDatasetAsync(champion.Lineage.Datasets[0], ct);
        var source = await datasets.ResolveAsync(new DatasetRef(baseName, null), ct);
        var sourceRef = $"{baseName}:{source.Version}";
        var parquet = await blobs.GetLocalCopyAsync(source.ParquetSha256, ct);

        var train = blobs.NewTempPath(".parquet");
        var holdout = blobs.NewTempPath(".parquet");
        var feedbackFile = policy.WithFeedback ? blobs.NewTempPath(".jsonl") : null;
        try
        {
            long labelled = 0;
            if (feedbackFile is not null) labelled = await WriteFeedbackAsync(decision.Endpoint, manifest, feedbackFile, ct);
            var temp = Path.GetDirectoryName(train)!;
            var split = await Task.Run(() => RetrainingData.Prepare(parquet, feedbackFile, train, holdout, HoldoutPercent, seed: 42, temp), ct);
            if (split.TrainRows < 10 || split.HoldoutRows < 5)
                throw ProblemException.Conflict($"{sourceRef} gives {split.TrainRows:N0} training and {split.HoldoutRows:N0} holdout rows; too few to retrain and judge");
            DatasetVersionInfo trainVersion, holdoutVersion;
            await using (var stream = File.OpenRead(train)) trainVersion = await datasets.UploadAsync(Suffixed(baseName, "-train"), SourceFormat.Parquet, ',', stream, Actor, ct);
            await using (var stream = File.OpenRead(holdout)) holdoutVersion = await datasets.UploadAsync(Suffixed(baseName, "-holdout"), SourceFormat.Parquet, ',', stream, Actor, ct);
            decision.TrainingData = $"{trainVersion.Name}:{trainVersion.Version}";
            decision.Holdout = $"{holdoutVersion.Name}:{holdoutVersion.Version}";
            reasons.Add($"retraining data: {sourceRef}{(feedbackFile is null ? "" : $" with {split.FeedbackRows:N0} labelled feedback rows")} split into " +
                $"{decision.TrainingData} ({split.TrainRows:N0} rows) and the holdout {decision.Holdout} ({split.HoldoutRows:N0} rows)");
        }
        finally
        {
            File.Delete(train);
            File.Delete(holdout);
            if (feedbackFile is not null) File.Delete(feedbackFile);
        }

        // The challenger reads what the champion reads, so the endpoint's requests fit it.
        var trainingColumns = (await datasets.GetVersionAsync(ParseDataset(decision.TrainingData), ct)).Columns.Select(c => c.Name);
        var exclude = trainingColumns.Where(c => c != manifest.Target && !manifest.Inputs.Any(i => i.Name == c)).ToList();
        var task = manifest.Task;
        decision.Metric = ParseMetric(policy.Metric ?? "")?.Metric ?? MetricCatalog.Primary(task);
        var experiment = Suffixed(decision.Endpoint, "-retraining");
        JobInfo job;
        if (ParseRetrain(policy.Retrain!) is { } budget)
        {
            var metric = MetricCatalog.Fits(decision.Metric, task) ? decision.Metric : null;
            job = await jobs.SubmitAutoMlAsync(new AutoMlRequest(decision.TrainingData, manifest.Target, budget, task, metric, champion.Name, experiment, Exclude: exclude), Actor, ct);
        }
        else
        {
            var trainer = ModelTrainer.Trainers.Contains(manifest.Trainer) ? manifest.Trainer : null;
            job = await jobs.SubmitTrainAsync(new TrainRequest(decision.TrainingData, manifest.Target, task, trainer, champion.Name, experiment, Exclude: exclude), Actor, ct);
        }
        decision.JobId = job.Id;
        decision.Status = "retraining";
        reasons.Add($"retraining as job {job.Id} ({policy.Retrain}), registered as a new version of {champion.Name}");
    }

    /// <summary>
    /// The dataset whose latest version a retraining reads: the champion's training dataset, or, for a champion that a
    /// policy trained on its own split (<c>NAME-train</c>), the dataset that split was made from.
    /// </summary>
    private async Task<string> SourceDatasetAsync(RunInput input, CancellationToken ct)
    {
        if (!input.Dataset.EndsWith("-train", StringComparison.Ordinal)) return input.Dataset;
        var version = await datasets.ResolveAsync(new DatasetRef(input.Dataset, input.Version), ct);
        var original = input.Dataset[..^"-train".Length];
        return version.CreatedBy == Actor && Names.IsValid(original) && await datasets.ExistsAsync(original, ct) ? original : input.Dataset;
    }

    /// <summary>Writes the endpoint's labelled feedback as training rows (the captured inputs and the true label), one JSON line each.</summary>
    private async Task<long> WriteFeedbackAsync(string endpoint, ModelManifest manifest, string path, CancellationToken ct)
    {
        long count = 0;
        await using var file = new StreamWriter(path, false, new UTF8Encoding(false));
        await foreach (var row in db.Feedback.AsNoTracking().Where(f => f.Endpoint == endpoint && f.InputsJson != null).AsAsyncEnumerable().WithCancellation(ct))
        {
            var fields = JsonSerializer.Deserialize(row.InputsJson!, StratusJsonContext.Default.IReadOnlyDictionaryStringJsonElement)!;
            var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                foreach (var (name, value) in fields.Where(f => f.Key != manifest.Target)) { json.WritePropertyName(name); value.WriteTo(json); }
                json.WritePropertyName(manifest.Target);
                if (row.Value is { } v) json.WriteNumberValue(v);
                else json.WriteStringValue(row.Label);
                json.WriteEndObject();
            }
            await file.WriteLineAsync(Encoding.UTF8.GetString(buffer.ToArray()));
            count++;
        }
        return count;
    }

    /// <summary>Sends the event to the policy's webhooks, adds the deliveries to the decision, and stores the decision.</summary>
    private async Task AlertAsync(DecisionRow decision, MonitorPolicy policy, string name, CancellationToken ct)
    {
        if (policy.Webhooks is { Count: > 0 })
        {
            var sent = await webhooks.SendAsync(policy.Webhooks, name, ToDecision(decision),
                secret => secrets.UseAsync(secret, Actor, $"the webhook of {decision.Endpoint}'s policy", ct), ct);
            var alerts = JsonSerializer.Deserialize(decision.AlertsJson, StratusJsonContext.Default.IReadOnlyListAlertDelivery)!.Concat(sent).ToList();
            decision.AlertsJson = JsonSerializer.Serialize<IReadOnlyList<AlertDelivery>>(alerts, StratusJsonContext.Default.IReadOnlyListAlertDelivery);
        }
        await db.SaveChangesAsync(ct);
    }

    private void Validate(MonitorPolicy policy)
    {
        if (policy.Drift is null && policy.Metric is null) throw ProblemException.Invalid("drift", "a policy needs a trigger: drift (such as psi>0.2), metric (such as auc<0.85) or both");
        if (policy.Drift is { } drift && ParseDrift(drift) is null)
            throw ProblemException.Invalid("drift", $"'{drift}' is not a drift trigger: STAT>X with STAT one of psi, jensenshannon (js), wasserstein, ks, share; or drift");
        if (policy.Metric is { } metric && ParseMetric(metric) is null)
            throw ProblemException.Invalid("metric", $"'{metric}' is not a metric trigger: METRIC<X or METRIC>X, such as auc<0.85 or rmse>3.5");
        if (policy.Schedule is { } schedule && ParseCron(schedule) is null)
            throw ProblemException.Invalid("schedule", $"'{schedule}' is not a cron expression: five fields (minute hour day month weekday, such as \"0 3 * * *\"), or six with seconds first");
        if (policy.WindowMinutes <= 0 || policy.WindowMinutes > 366 * 24 * 60 || double.IsNaN(policy.WindowMinutes))
            throw ProblemException.Invalid("window_minutes", $"is {policy.WindowMinutes}; more than 0 and at most a year of minutes");
        if (policy.MinRows is < 1 or > 1_000_000) throw ProblemException.Invalid("min_rows", $"is {policy.MinRows}; 1 to 1,000,000 rows");
        if (policy.Retrain is { } retrain && retrain != "train" && ParseRetrain(retrain) is null)
            throw ProblemException.Invalid("retrain", $"'{retrain}' is not a retraining: train, or automl:BUDGET (such as automl:120s or automl:10m, 5 s to a day)");
        if (policy.Promote is not ("if-better" or "never")) throw ProblemException.Invalid("promote", $"'{policy.Promote}' is not if-better or never");
        if (policy.Margin < 0 || !double.IsFinite(policy.Margin)) throw ProblemException.Invalid("margin", $"is {policy.Margin}; a margin is 0 or more");
        ProblemException.CheckName("alias", policy.Alias);
        if (policy.Canary is < 1 or > 99) throw ProblemException.Invalid("canary", $"is {policy.Canary}; the first share is 1 to 99 (percent)");
        if (policy.Step is < 1 or > 100) throw ProblemException.Invalid("step", $"is {policy.Step}; a step is 1 to 100 (percent)");
        if (policy.IntervalSeconds is < 1 or > 86_400) throw ProblemException.Invalid("interval_seconds", $"is {policy.IntervalSeconds}; an interval is 1 second to 1 day");
        foreach (var (column, rule) in policy.Rules ?? new Dictionary<string, DriftRule>())
        {
            if (!DriftDetector.Methods.Contains(rule.Method)) throw ProblemException.Invalid($"rules.{column}", $"'{rule.Method}' is not one of {string.Join(", ", DriftDetector.Methods)}");
        }
        var urls = policy.Webhooks ?? [];
        if (urls.Count > 10) throw ProblemException.Invalid("webhooks", $"lists {urls.Count} URLs; at most 10");
        for (var i = 0; i < urls.Count; i++)
        {
            if (webhooks.Check(urls[i]) is { } reason) throw ProblemException.Invalid($"webhooks[{i}]", reason);
        }
    }

    /// <summary>Whether a drift report breaks the rule, and the readings that say so.</summary>
    private static (bool Fired, List<string> Reasons) Drifted((string Stat, double Threshold) rule, DriftReport report)
    {
        var reasons = new List<string>();
        var head = $"drift report {report.Id} ({report.Rows:N0} requests from {report.From:u} to {report.To:u}): {report.Status}";
        if (report.Status == "insufficient_data")
        {
            reasons.Add($"{head}; fewer rows than a test needs, not judged");
            return (false, reasons);
        }
        switch (rule.Stat)
        {
            case "drift":
                var names = report.Features.Append(report.Prediction).Where(f => f?.Status == "drift").Select(f => $"{f!.Column} ({f.Method} {Format(f.Score ?? double.NaN)} vs {Format(f.Threshold)})");
                reasons.Add(report.Status == "drift" ? $"{head}: {string.Join(", ", names)}" : head);
                return (report.Status == "drift", reasons);
            case "share":
                var byShare = report.DriftShare > rule.Threshold;
                reasons.Add($"{head}; share of drifted columns {Format(report.DriftShare)} {(byShare ? ">" : "<=")} {Format(rule.Threshold)}");
                return (byShare, reasons);
        }
        var key = rule.Stat == "wasserstein" ? "wasserstein_normed" : rule.Stat;
        var over = report.Features.Append(report.Prediction)
            .Where(f => f is not null && f.Status != "insufficient_data" && f.Statistics.TryGetValue(key, out var v) && v > rule.Threshold)
            .Select(f => $"{f!.Column}: {rule.Stat} {Format(f.Statistics[key])} > {Format(rule.Threshold)}").ToList();
        reasons.Add(over.Count > 0 ? $"{head}; {string.Join(", ", over)}" : $"{head}; no column's {rule.Stat} above {Format(rule.Threshold)}");
        return (over.Count > 0, reasons);
    }

    internal static (string Stat, double Threshold)? ParseDrift(string text)
    {
        text = text.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        if (text == "drift") return ("drift", 0);
        var at = text.IndexOf('>', StringComparison.Ordinal);
        if (at <= 0 || !double.TryParse(text.AsSpan(at + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold) || threshold < 0 || !double.IsFinite(threshold)) return null;
        var stat = text[..at] switch { "js" => "jensenshannon", var s => s };
        return stat is "psi" or "jensenshannon" or "wasserstein" or "ks" or "share" ? (stat, threshold) : null;
    }

    internal static (string Metric, char Op, double Threshold)? ParseMetric(string text)
    {
        text = text.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        var at = text.IndexOfAny(['<', '>']);
        if (at <= 0 || !double.TryParse(text.AsSpan(at + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold) || !double.IsFinite(threshold)) return null;
        var metric = text[..at];
        return MetricCatalog.IsValidation(metric) ? (metric, text[at], threshold) : null;
    }

    /// <summary>The AutoML budget in seconds of <c>automl:120s</c> (or <c>automl:10m</c>, <c>automl:1h</c>, <c>automl:300</c>); null for anything else.</summary>
    internal static int? ParseRetrain(string text)
    {
        if (!text.StartsWith("automl:", StringComparison.Ordinal)) return null;
        var budget = text["automl:".Length..];
        var unit = budget.Length > 0 && char.IsLetter(budget[^1]) ? budget[^1] : 's';
        var digits = char.IsLetter(unit) && budget.Length > 0 && char.IsLetter(budget[^1]) ? budget[..^1] : budget;
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return null;
        long seconds = unit switch { 's' => n, 'm' => n * 60L, 'h' => n * 3600L, _ => -1 };
        return seconds is >= 5 and <= 86_400 ? (int)seconds : null;
    }

    internal static CronExpression? ParseCron(string text)
    {
        var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        if (fields is not (5 or 6)) return null;
        return CronExpression.TryParse(text, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard, out var cron) ? cron : null;
    }

    private static DateTimeOffset? NextOccurrence(string? schedule, DateTimeOffset after) =>
        schedule is null ? null : ParseCron(schedule)!.GetNextOccurrence(after, TimeZoneInfo.Utc);


    private static string Suffixed(string name, string suffix) => (name.Length + suffix.Length > Names.MaxLength ? name[..(Names.MaxLength - suffix.Length)] : name) + suffix;

    private static DatasetRef ParseDataset(string text)
    {
        return DatasetRef.TryParse(text, out var reference, out var error) ? reference : throw new InvalidOperationException(error);
    }

    private static string Format(double value) => double.IsNaN(value) ? "n/a"
        : value != 0 && Math.Abs(value) < 1e-3 ? value.ToString("G3", CultureInfo.InvariantCulture) // p-values: 1.4E-61, not 0
        : value.ToString("0.####", CultureInfo.InvariantCulture);

    private static string Json(List<string> reasons) => JsonSerializer.Serialize<IReadOnlyList<string>>(reasons, StratusJsonContext.Default.IReadOnlyListString);

    private static MonitorPolicy Policy(string json) => JsonSerializer.Deserialize(json, StratusJsonContext.Default.MonitorPolicy)!;

    private async Task<PolicyRow> FindAsync(string endpoint, CancellationToken ct)
    {
        await endpoints.GetAsync(endpoint, ct);
        return await db.Policies.FindAsync([endpoint], ct)
            ?? throw new ProblemException(404, "Not found", $"endpoint '{endpoint}' has no monitoring policy; set one with stratus monitor set {endpoint} --drift psi>0.2");
    }

    private static MonitorPolicyInfo ToInfo(PolicyRow row)
    {
        var policy = Policy(row.PolicyJson);
        return new(row.Endpoint, policy with { Webhooks = policy.Webhooks?.Select(Webhooks.Redact).ToList() }, row.NextCheckAt, row.LastCheckAt, row.UpdatedAt);
    }

    private static PolicyDecision ToDecision(DecisionRow d) => new(d.Id, d.Endpoint, d.Trigger, d.Status,
        JsonSerializer.Deserialize(d.ReasonsJson, StratusJsonContext.Default.IReadOnlyListString)!, new ModelVersionRef(d.ChampionName, d.ChampionVersion),
        d.ChallengerVersion is { } v ? new ModelVersionRef(d.ChampionName, v) : null, d.DriftReportId, d.JobId, d.TrainingData, d.Holdout, d.Metric,
        JsonSerializer.Deserialize(d.ScoresJson, StratusJsonContext.Default.IReadOnlyDictionaryStringDouble)!, d.RolloutId,
        JsonSerializer.Deserialize(d.AlertsJson, StratusJsonContext.Default.IReadOnlyListAlertDelivery)!, d.CreatedAt, d.UpdatedAt);

    [LoggerMessage(Level = LogLevel.Error, Message = "A policy check of {Endpoint} failed")]
    private static partial void LogCheckError(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Policy of {Endpoint}: {Status} ({Reasons})")]
    private static partial void LogDecision(ILogger logger, string endpoint, string status, string reasons);
}
