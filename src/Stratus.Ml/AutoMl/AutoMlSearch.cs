using System.Diagnostics;
using System.Globalization;
using Stratus.Ml.Data;
using Stratus.Ml.Training;

namespace Stratus.Ml.AutoMl;

/// <summary>What an AutoML search optimizes, within what time.</summary>
public sealed record AutoMlOptions
{
    public required string Target { get; init; }

    /// <summary>The task; inferred from the target when null.</summary>
    public MlTask? Task { get; init; }

    /// <summary>Wall-clock time for the whole search, the final model included.</summary>
    public required TimeSpan Budget { get; init; }

    /// <summary>The metric to optimize (see <see cref="AutoMlMetrics"/>); null picks the task's default.</summary>
    public string? Metric { get; init; }

    public int Seed { get; init; } = 42;

    /// <summary>Cross-validation folds; 0 chooses by size and budget (see <see cref="AutoMlSearch"/>).</summary>
    public int Folds { get; init; }

    public IReadOnlyCollection<string> Exclude { get; init; } = [];

    /// <summary>Trials run side by side (each LightGBM fit then gets its share of the cores).</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>
    /// The trials of an interrupted search of the same data and options: the search goes on from them, within what
    /// is left of the budget after the last of them ended (<see cref="Trial.Ended"/>).
    /// </summary>
    public IReadOnlyList<Trial> Resume { get; init; } = [];
}

/// <summary>One configuration tried: its trainer and parameters, and how it did.</summary>
/// <param name="Status"><c>ok</c>, <c>pruned</c> (stopped after some folds: it could not win), <c>failed</c> (with <see cref="Error"/>) or <c>timeout</c> (the budget ran out during it).</param>
/// <param name="Parameters">The configuration, exactly (<see cref="AutoMlSearch.Configure"/> reads it back).</param>
/// <param name="Score">The optimized metric on validation data; for a pruned trial, over the folds it ran.</param>
/// <param name="Ended">The search's time when the trial ended, counted from the start of the search (restarts included).</param>
public sealed record Trial(
    int Number,
    string Trainer,
    IReadOnlyDictionary<string, string> Parameters,
    string Status,
    double? Score,
    IReadOnlyDictionary<string, double> Metrics,
    TimeSpan Duration,
    TimeSpan Ended,
    string? Error = null);

/// <summary>The outcome of a search: the model to keep (the best trial's, or an ensemble of trials), and every trial.</summary>
/// <param name="BestTrial">The best single trial.</param>
/// <param name="Ensemble">When an ensemble beat the best single trial on validation data: its trials and weights.</param>
/// <param name="Partial">The best model is one the deadline stopped while it still improved (holdout), as it stood then.</param>
public sealed record AutoMlResult(TrainResult Best, Trial BestTrial, IReadOnlyList<Trial> Trials, string Metric, IReadOnlyList<(Trial Trial, double Weight)>? Ensemble = null,
    bool Partial = false);

/// <summary>The metrics AutoML can optimize, their direction, and the default per task.</summary>
public static class AutoMlMetrics
{
    /// <summary>The metric name as Stratus reports it, from a user's spelling (<c>logloss</c> is <c>log_loss</c>).</summary>
    /// <exception cref="DataFormatException">The metric does not exist or does not fit the task.</exception>
    public static string Resolve(string? metric, MlTask task)
    {
        var name = metric is null ? MetricCatalog.SearchDefault(task.Name()) : MetricCatalog.Normalize(metric);
        var allowed = MetricCatalog.For(task.Name());
        if (!allowed.Contains(name)) throw new DataFormatException($"metric '{metric}' does not apply to {task.Name()}; use one of {string.Join(", ", allowed)}");
        return name;
    }

}

/// <summary>
/// Finds the best model for a dataset within a time budget. The search starts with cheap, robust configurations
/// (a 4-leaf LightGBM, a linear model, larger boosted trees), searches the linear model's L2, tries ML.NET's tree
/// learners when the budget allows, then runs a randomized local search around the best LightGBM configuration in
/// the spirit of FLAML's CFO: a step in a random direction of the log-scaled hyperparameters, the opposite step if
/// that fails, a smaller step after repeated failures.
/// Boosting stops early on the folds' validation loss, so the number of trees is searched for free; a trial whose
/// first folds already trail the best is abandoned; LightGBM trials stop at the next iteration when the budget ends,
/// and ML.NET trainers only start when their expected time fits (and are cancelled at the deadline). Trials run
/// <see cref="AutoMlOptions.Parallelism"/> at a time, proposed and recorded in order (a seed and a parallelism give the
/// same trials), and a search can resume from the trials of an interrupted one (<see cref="AutoMlOptions.Resume"/>).
/// </summary>
public static class AutoMlSearch
{
    private const int EarlyStopping = 20;
    private const int MaxIterations = 2000;

    /// <summary>
    /// Why a search of this data within this budget could not end with a model, found before any work: the request
    /// field to blame and the reason; null when it can run. Checked when a search is submitted and when it starts.
    /// </summary>
    public static (string Field, string Reason)? Refusal(IReadOnlyList<ColumnProfile> profile, AutoMlOptions options)
    {
        MlTask task;
        IReadOnlyList<FeatureColumn> features;
        try
        {
            (task, features) = ModelTrainer.Plan(profile, new TrainOptions { Target = options.Target, Task = options.Task, Exclude = options.Exclude });
        }
        catch (DataFormatException ex)
        {
            return ("target", ex.Message);
        }
        var target = profile.First(c => c.Name == options.Target);
        if (features.Count >= target.Count)
        {
            return ("dataset", $"{target.Count:N0} rows have a target and there are {features.Count:N0} feature columns: with no more rows than columns " +
                "any model fits its training rows exactly and no validation can tell models apart; exclude columns or add rows");
        }
        var needed = FirstTrialSeconds(target.Count, features.Count, task == MlTask.MulticlassClassification ? target.Distinct : 1);
        if (options.Budget.TotalSeconds < needed)
        {
            var classes = task == MlTask.MulticlassClassification ? $" x {target.Distinct} classes" : "";
            return ("budget_seconds", string.Create(CultureInfo.InvariantCulture,
                $"a budget of {options.Budget.TotalSeconds:0.###} s is too small for {target.Count:N0} rows x {features.Count} features{classes}: a first model takes about {needed:F0} s; " +
                $"give at least {Math.Ceiling(needed * 2)} s, or search a sample of the dataset"));
        }
        return null;
    }

    /// <summary>
    /// About how long the first, cheapest trial takes (loading the rows included): a small booster of up to 200 trees per
    /// class, each tree a pass over rows x features. Measured on this project's benchmark machines (2 cores) and rounded
    /// up; a floor, not a promise.
    /// </summary>
    private static double FirstTrialSeconds(long rows, int features, long classes) => 0.5 + 2e-7 * rows * Math.Max(1, features) * Math.Max(1, classes);

    public static AutoMlResult Run(string parquet, IReadOnlyList<ColumnProfile> profile, AutoMlOptions options, string tempDirectory,
        Action<Trial>? onTrial = null, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        // A resumed search has already spent the time up to its last trial's end.
        var spent = options.Resume.Count > 0 ? options.Resume.Max(t => t.Ended) : TimeSpan.Zero;
        TimeSpan Elapsed() => spent + clock.Elapsed;
        // Trials follow their validation rows only: measuring the training rows too at every iteration costs a fifth
        // of a small booster's time.
        var baseOptions = new TrainOptions { Target = options.Target, Task = options.Task, Seed = options.Seed, Folds = options.Folds, Exclude = options.Exclude, TrainingCurve = false };
        if (Refusal(profile, options) is { } refused) throw new DataFormatException(refused.Reason);
        var (task, features) = ModelTrainer.Plan(profile, baseOptions);
        // The validation: the caller's folds, or those the interrupted search chose (its trials record them), or chosen
        // below from what a trial measurably costs. Sessions open with 5 folds; a holdout is their first fold's split.
        var recorded = options.Resume.Select(t => t.Parameters.GetValueOrDefault("folds")).FirstOrDefault(f => f is not null) is { } text
            && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var folds) ? folds : (int?)null;
        var recordedRepeats = options.Resume.Select(t => t.Parameters.GetValueOrDefault("repeats")).FirstOrDefault(r => r is not null) is { } repeatsText
            && int.TryParse(repeatsText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var repeats) ? repeats : 1;
        baseOptions = baseOptions with { Task = task, Folds = options.Folds > 0 ? options.Folds : recorded is > 1 ? recorded.Value : 5 };
        var metric = AutoMlMetrics.Resolve(options.Metric, task);
        var sign = MetricCatalog.HigherIsBetter(metric) ? 1.0 : -1.0;
        using var session = TrainingSession.Open(parquet, profile, baseOptions, tempDirectory);
        var parallelism = Math.Max(1, options.Parallelism);
        var categorical = session.Features.Any(f => f.Kind is FeatureKind.Categorical or FeatureKind.HighCardinality);
        var classes = session.Classes.Count;
        // The fit that chose a holdout is the search's first trial under it: not fitted twice.
        (TrainOptions Options, Evaluation Evaluation, TimeSpan Duration, bool Stopped)? probe = null;
        if (options.Folds == 0)
        {
            if (recorded is { } resumedFolds) session.Revalidate(resumedFolds, recordedRepeats);
            else probe = MeasuredFolds(session, Starts(task, baseOptions, session.Rows, categorical, classes).First(), () => options.Budget - Elapsed(), progress, ct);
            baseOptions = baseOptions with { Folds = session.Folds, Repeats = session.Repeats };
        }
        progress?.Report($"searching for {options.Budget.TotalSeconds:F0} s, optimizing {metric} ({session.Validation} of {session.Rows:N0} rows" +
            $"{(parallelism > 1 ? $", {parallelism} trials at a time" : "")})");

        var random = new Random(options.Seed + options.Resume.Count); // a resumed search does not retrace its steps
        var trials = new List<Trial>();
        var configurations = new Dictionary<int, TrainOptions>(); // what each trial ran, exactly
        var costs = new Dictionary<string, TimeSpan>(StringComparer.Ordinal); // the longest trial per trainer so far
        (Trial Trial, TrainOptions Options, Evaluation Evaluation)? best = null;
        // The best finished trials, with their validation predictions (and holdout models): the ensemble's candidates.
        var library = new List<(Trial Trial, TrainOptions Options, Evaluation Evaluation)>();
        // Per-fold metrics of the finished trials: what a new trial's first folds are held against.
        var foldMetrics = new Dictionary<int, IReadOnlyList<IReadOnlyDictionary<string, double>>>();

        // Time kept for the final fits on all rows (cross-validation: the best trials', as an ensemble may need them),
        // choosing an ensemble and scoring it (an ensemble of 26-class boosters took 5% of a 12 s budget), the
        // permutation importance and packaging: 12% of the budget, and more as the best trials cost more.
        TimeSpan Reserve() => options.Budget * 0.12
            + (session.Folds > 1 ? TimeSpan.FromTicks(library.Take(3).Sum(e => e.Trial.Duration.Ticks) / session.Splits) * 1.5 : TimeSpan.Zero);
        TimeSpan Left() => options.Budget - Elapsed() - Reserve();
        // The feature importance at the end, in what is left (less a margin for packaging, the last 5% or so), or a
        // sliver when nothing is: left out, and said so, when the model is too slow to measure in it.
        IReadOnlyDictionary<string, double> Importance(TrainedModel model)
        {
            progress?.Report("measuring feature importance");
            var importance = session.Importance(model,
                TimeSpan.FromTicks(Math.Max((options.Budget - Elapsed()).Ticks - options.Budget.Ticks / 15, options.Budget.Ticks / 100)));
            if (importance.Count == 0) progress?.Report("feature importance left out: scoring the model for each column would overrun the budget");
            return importance;
        }

        // Evaluates configurations side by side, each first held against the incumbent's same folds: a trial whose
        // first folds trail it by more than a margin is abandoned (pruned).
        (Trial Trial, Evaluation? Evaluation)[] EvaluateAll(IReadOnlyList<(int Number, TrainOptions Candidate)> work,
            IReadOnlyList<IReadOnlyDictionary<string, double>>? incumbent, TimeSpan? left)
        {
            var outcomes = new (Trial, Evaluation?)[work.Count];
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (left is { } limit) deadline.CancelAfter(limit);
            Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, i =>
            {
                var (number, candidate) = work[i];
                var parameters = Describe(candidate);
                var started = Stopwatch.StartNew();
                // An ML.NET trainer never timed here runs on a guess of its cost (a 26-class L-BFGS took 9 times the
                // cheap booster): half of what is left at most, so that a wrong guess cannot take the whole budget.
                using var own = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
                if (left is { } cap && candidate.Trainer != "lightgbm" && !costs.ContainsKey(candidate.Trainer)) own.CancelAfter(cap / 2);
                try
                {
                    // A holdout's booster stops at the deadline and is measured as it stands: a partial model, kept
                    // in case nothing finishes. Cross-validated trials are abandoned at the deadline.
                    var holdout = session.Folds <= 1 && candidate.Trainer == "lightgbm";
                    var evaluation = session.Evaluate(candidate, null, (folds, partial) =>
                    {
                        if (incumbent is null || !partial.TryGetValue(metric, out var value)) return true;
                        var same = incumbent.Take(folds).Select(f => f.GetValueOrDefault(metric, double.NaN)).Where(double.IsFinite).ToList();
                        return same.Count == 0 || sign * (value - same.Average()) > -Margin(same.Average());
                    }, holdout ? ct : own.Token, holdout ? deadline.Token : default);
                    var status = holdout && deadline.IsCancellationRequested ? "timeout" : evaluation.Folds < session.Splits ? "pruned" : "ok";
                    var score = evaluation.Metrics.TryGetValue(metric, out var v) ? v : (double?)null;
                    outcomes[i] = (new Trial(number, candidate.Trainer, parameters, status, score, evaluation.Metrics, started.Elapsed, Elapsed()), evaluation);
                }
                catch (OperationCanceledException)
                {
                    // The budget ran out during it (a cancelled search is rethrown below).
                    outcomes[i] = (new Trial(number, candidate.Trainer, parameters, "timeout", null, new Dictionary<string, double>(), started.Elapsed, Elapsed()), null);
                }
                catch (Exception ex)
                {
                    // A trial that crashes is recorded and the search goes on.
                    outcomes[i] = (new Trial(number, candidate.Trainer, parameters, "failed", null, new Dictionary<string, double>(), started.Elapsed, Elapsed(), ex.Message), null);
                }
            });
            ct.ThrowIfCancellationRequested();
            return outcomes;
        }

        // A finished trial becomes the best, an ensemble candidate, and an incumbent to hold others against.
        void Keep(Trial trial, TrainOptions configuration, Evaluation evaluation)
        {
            foldMetrics[trial.Number] = evaluation.PerFold;
            if (best is null || sign * (trial.Score!.Value - best.Value.Trial.Score!.Value) > 0) best = (trial, configuration, evaluation);
            Admit(library, (Trial: trial, Options: configuration, Evaluation: evaluation), e => sign * e.Trial.Score!.Value, e => Family(e.Options), LibrarySize);
        }

        var tried = new HashSet<string>(StringComparer.Ordinal);
        // A trial joins the record: what it ran, and the longest time its trainer took.
        void Add(Trial trial, TrainOptions configuration)
        {
            trials.Add(trial);
            tried.Add(Key(trial.Parameters));
            configurations[trial.Number] = configuration;
            costs[trial.Trainer] = costs.TryGetValue(trial.Trainer, out var cost) && cost > trial.Duration ? cost : trial.Duration;
        }

        // Runs new trials side by side, held against the rival (default: the best trial), and records them in order;
        // null when no time is left. A configuration tried before is not tried again.
        List<Trial>? Batch(IEnumerable<TrainOptions> candidates, int? rival = null, bool prune = true)
        {
            var left = Left();
            if (left <= TimeSpan.Zero) return null;
            // Cross-validation: a trial that ends at its deadline and wins must still be fitted on every row (about
            // 1.5 of its folds' time): the deadline leaves room for that.
            if (session.Folds > 1) left /= 1 + 1.5 / session.Splits;
            // Too little to finish anything: less than half the quickest trial that finished.
            var quickest = trials.Where(t => t.Status == "ok").Select(t => t.Duration.Ticks / 2).DefaultIfEmpty(0).Min();
            if (left.Ticks < Math.Max(quickest, Math.Max(TimeSpan.TicksPerMillisecond * 50, options.Budget.Ticks / 200))) return null;
            // An ML.NET trainer stopped at the deadline leaves no model (unlike a holdout booster): start one only
            // when its expected time fits.
            var runnable = candidates.DistinctBy(c => Key(Describe(c))).Where(c => !tried.Contains(Key(Describe(c))))
                .Where(c => c.Trainer == "lightgbm" || Expected(c.Trainer, costs, session) <= left).ToList();
            var first = trials.Count == 0 ? 1 : trials.Max(t => t.Number) + 1;
            var incumbent = !prune ? null : rival is { } r ? foldMetrics.GetValueOrDefault(r) : best?.Evaluation.PerFold;
            var outcomes = EvaluateAll([.. runnable.Select((c, i) => (first + i, c))], incumbent, left);
            for (var i = 0; i < runnable.Count; i++) Record(outcomes[i].Trial, runnable[i], outcomes[i].Evaluation);
            return [.. outcomes.Select(o => o.Trial)];
        }

        // Seconds per boosted tree leaf, from the finished booster of the most leaves (a tree costs about its leaves):
        // what a random forest of a fixed number of deep trees is expected to take.
        var leafSeconds = (Seconds: 0.0, Leaves: 0);
        TimeSpan? ExpectedForest(TrainOptions c) => c.RandomForest && leafSeconds.Leaves > 0
            ? TimeSpan.FromSeconds(leafSeconds.Seconds * c.Iterations * (c.Leaves ?? 31)) : null;

        // A trial that ended joins the record, and with a model the candidates; the caller and the log hear of it.
        void Record(Trial trial, TrainOptions configuration, Evaluation? evaluation)
        {
            Add(trial, configuration);
            if (trial.Status == "ok" && configuration is { Trainer: "lightgbm", RandomForest: false, Leaves: { } leaves } && leaves >= leafSeconds.Leaves
                && evaluation?.Curve?.Series.Values.FirstOrDefault() is { Length: > 0 } boosted)
            {
                leafSeconds = (trial.Duration.TotalSeconds / (boosted.Length * (double)leaves), leaves);
            }
            // A holdout booster the deadline stopped was measured as it stood, on the same rows as the others:
            // a model like them (often the best, when the budget is short for the data).
            if (trial is { Status: "ok" or "timeout", Score: { } s } && evaluation is not null && double.IsFinite(s)) Keep(trial, configuration, evaluation);
            onTrial?.Invoke(trial);
            progress?.Report(TrialLog.Format(trial.Number, trial.Status, trial.Trainer, metric, trial.Score, trial.Duration.TotalSeconds, best?.Trial.Score));
        }

        if (probe is { } measured && measured.Evaluation.Metrics.TryGetValue(metric, out var probeScore))
        {
            var configuration = measured.Options with { Folds = session.Folds, Repeats = session.Repeats };
            Record(new Trial(1, configuration.Trainer, Describe(configuration), measured.Stopped ? "timeout" : "ok", probeScore, measured.Evaluation.Metrics,
                    measured.Duration, Elapsed()),
                configuration, measured.Evaluation);
        }

        if (options.Resume.Count > 0)
        {
            // A trial's score is its metric, whichever the caller kept.
            var resumed = options.Resume.OrderBy(t => t.Number)
                .Select(t => t with { Score = t.Score ?? (t.Status is "ok" or "pruned" && t.Metrics.TryGetValue(metric, out var m) ? m : null) }).ToList();
            foreach (var prior in resumed)
            {
                Add(prior, Configure(prior.Parameters, baseOptions));
            }
            progress?.Report($"resuming after a restart: {trials.Count} trials done in {spent.TotalSeconds:F0} s, " +
                $"{Math.Max(0, (options.Budget - spent).TotalSeconds):F0} s of the budget left");
            // Their models and validation predictions were lost with the process: the best of them are evaluated again
            // (the same splits and seeds give the same scores), to be the incumbent and ensemble candidates. The best
            // one is worth its time even when the budget is spent.
            var top = resumed.Where(t => t is { Status: "ok", Score: { } sc } && double.IsFinite(sc))
                .OrderByDescending(t => sign * t.Score!.Value).ThenBy(t => t.Number).Take(parallelism).ToList();
            var remaining = options.Budget - Elapsed();
            var restored = EvaluateAll([.. top.Select(t => (t.Number, configurations[t.Number]))], null, remaining > TimeSpan.Zero ? remaining : null);
            for (var i = 0; i < top.Count; i++)
            {
                if (restored[i] is ({ Status: "ok" }, { } evaluation)) Keep(top[i], configurations[top[i].Number], evaluation);
            }
        }

        // The starts (those not tried before a restart or by the validation's cheap fit), as many at a time as run side
        // by side. They run to the end: each is the anchor of its family (the linear model's regularization is
        // searched from its start) and a candidate for the ensemble. The two cheap ones (the smallest booster, the
        // linear model) go first and together, so that the larger boosters share a batch with each other rather than
        // with one that ends early and leaves its cores idle.
        var starts = Starts(task, baseOptions, session.Rows, categorical, classes).ToList();
        foreach (var chunk in starts.Take(2).Chunk(parallelism).Concat(starts.Skip(2).Chunk(parallelism)))
        {
            // A forest of deep trees starts, like ML.NET's learners below, only when half of what is left covers it.
            var untried = chunk.Where(c => !tried.Contains(Key(Describe(c))) && !(ExpectedForest(c) * 2 > Left())).ToList();
            if (untried.Count > 0 && Batch(untried, prune: false) is null) break;
        }

        // The linear model's regularization, ten times weaker or stronger while that improves it: cheap, and on small
        // data often what wins, or what an ensemble needs beside the trees.
        if (BestOf(task == MlTask.Regression ? "sdca" : "lbfgs") is { } linear)
        {
            var factors = new[] { 0.1, 10.0 };
            while (Batch(factors.Select(f => linear.Options with { L2 = Math.Round(Math.Clamp((linear.Options.L2 ?? 1) * f, 1e-4, 100), 6) }), linear.Number) is { } done)
            {
                var top = done.Where(t => t is { Status: "ok", Score: not null }).OrderByDescending(t => sign * t.Score!.Value).FirstOrDefault();
                if (top is null || sign * (top.Score!.Value - linear.Score) <= 0) break;
                var factor = configurations[top.Number].L2!.Value / (linear.Options.L2 ?? 1);
                linear = (configurations[top.Number], top.Score.Value, top.Number);
                factors = [factor]; // on in the direction that helped
            }
        }

        // ML.NET's tree learners after the cheap searches, and only when half of what is left covers them.
        Batch([.. OtherTrees(baseOptions).Where(c => Expected(c.Trainer, costs, session) * 2 <= Left())], prune: false);

        // Local search around the best LightGBM configuration: move to any step that beats it.
        var center = BestOf("lightgbm");
        var step = 1.0;
        var failures = 0;
        while (center is { } c && Left() > TimeSpan.Zero)
        {
            // Opposite steps along random directions, as many as run side by side (at least a pair): one at a time,
            // the opposite step runs only when the first did not improve.
            var candidates = new List<TrainOptions>();
            while (candidates.Count < Math.Max(2, parallelism))
            {
                var direction = RandomDirection(random);
                var flip = categorical && random.NextDouble() < 0.2; // one-hot or native categories
                candidates.Add(Move(c.Options, direction, step, flip));
                candidates.Add(Move(c.Options, direction, -step, flip));
            }
            var improved = false;
            var ran = false;
            foreach (var chunk in candidates.Chunk(parallelism))
            {
                // Held against the center, not the best trial: a step that beats the center moves the search even
                // while another trainer leads (and may still join it in an ensemble).
                if (Batch(chunk, c.Number) is not { } done) break;
                ran = true;
                var top = done.Where(t => t is { Status: "ok", Score: not null }).OrderByDescending(t => sign * t.Score!.Value).FirstOrDefault();
                if (top is null || sign * (top.Score!.Value - c.Score) <= 0) continue;
                center = (configurations[top.Number], top.Score.Value, top.Number);
                improved = true;
                break;
            }
            if (!ran) break;
            if (improved) continue;
            // Repeated failures: search closer; a step too small to matter: start wide again.
            if (++failures % 3 == 0) step *= 0.6;
            if (step < 0.1) step = 1.0;
        }

        // The best model may be one the deadline stopped while it still improved: it says so.
        var partialModel = best is { Trial.Status: "timeout" };
        if (best is { Trial.Status: "timeout" } stopped)
        {
            progress?.Report($"the best model, trial {stopped.Trial.Number}, was stopped by the budget at {stopped.Evaluation.Curve?.BestIteration ?? 0} iterations " +
                $"while it still improved ({metric} {stopped.Trial.Score:F4}); a larger budget would finish it");
        }
        if (best is not { } winner)
        {
            var reasons = trials.Count == 0 ? "the budget ran out before the first trial could start"
                : string.Join("; ", trials.Select(t => $"trial {t.Number} {t.Trainer} {t.Status}{(t.Error is null ? "" : $": {t.Error}")}"));
            throw new DataFormatException($"no trial finished within the budget of {options.Budget.TotalSeconds:F0} s ({reasons}); give it more time");
        }

        // An ensemble of the best trials, when it beats the best one on the same validation predictions and its
        // members can still be fitted on every row within the budget.
        var ensemble = Ensemble(library, task, session, metric, sign, winner.Trial.Score!.Value, options.Budget * 0.97 - Elapsed());
        TrainResult result;
        if (ensemble is { } chosen)
        {
            progress?.Report($"ensemble of {string.Join(", ", chosen.Select(m => $"trial {m.Entry.Trial.Number} x{m.Weight:F2}"))} beats the best trial on validation data");
            var members = chosen.Select(m => (m.Entry.Evaluation.Model ?? session.FitFinal(
                    m.Entry.Options with { EarlyStoppingRounds = 0 }, progress, ct, m.Entry.Options.Trainer == "lightgbm" ? m.Entry.Evaluation.Curve?.BestIteration : null),
                new EnsembleMember(m.Entry.Trial.Trainer, m.Weight, m.Entry.Trial.Parameters))).ToList();
            var model = TrainedModel.Ensemble(members);
            var predictions = TrainedModel.Average(chosen.Select(m => (m.Entry.Evaluation.Predictions, m.Weight)));
            var (metrics, confusion) = ModelMetrics.Compute(task, winner.Evaluation.Labels, predictions, session.Classes.Count);
            result = new TrainResult(model, task, "ensemble", session.Features, session.Classes, metrics, confusion, session.Validation, Elapsed(),
                session.Categories(), Importance(model), null, ModelTrainer.BaselineScores(session, model, predictions));
        }
        else
        {
            // The model to keep: the holdout's own model, or (cross-validation) the winner refitted on every row.
            progress?.Report($"best: trial {winner.Trial.Number}, {winner.Options.Trainer} {metric} {winner.Trial.Score:F4}");
            var model = winner.Evaluation.Model ?? session.FitFinal(
                winner.Options with { EarlyStoppingRounds = 0 }, progress, ct, winner.Options.Trainer == "lightgbm" ? winner.Evaluation.Curve?.BestIteration : null);
            result = new TrainResult(model, task, winner.Options.Trainer, session.Features, session.Classes, winner.Evaluation.Metrics, winner.Evaluation.Confusion,
                session.Validation, Elapsed(), session.Categories(), Importance(model), winner.Evaluation.Curve, ModelTrainer.BaselineScores(session, model, winner.Evaluation.Predictions));
        }
        return new AutoMlResult(result with { Duration = Elapsed() }, winner.Trial, trials, metric, ensemble?.Select(m => (m.Entry.Trial, m.Weight)).ToList(), partialModel);

        (TrainOptions Options, double Score, int Number)? BestOf(string trainer)
        {
            var ok = trials.Where(t => t.Status == "ok" && t.Trainer == trainer && t.Score is not null).ToList();
            if (ok.Count == 0) return null;
            var top = ok.OrderByDescending(t => sign * t.Score!.Value).First();
            return (configurations[top.Number], top.Score!.Value, top.Number);
        }
    }

    /// <summary>
    /// The validation when the caller did not choose, from what a trial costs on this data and machine: the cheapest
    /// start is fitted on the first fold and timed. 5 folds when the budget holds <see cref="TrialsWanted"/> such fits
    /// per fold under 5 folds, else 3 folds when it holds them under 3, else a holdout (the first fold's split) unless
    /// that would hold out fewer than <see cref="MinHoldoutRows"/> rows: more trials beat a steadier score when the
    /// budget is short. Data of fewer than <see cref="MinHoldoutRows"/> rows always gets 5 folds, repeated on other
    /// splits (up to <see cref="MaxRepeats"/> times) while the budget still holds <see cref="CheapTrialsPerRepeat"/>
    /// cheap trials: there a search tries hundreds, and on one split of a few hundred rows the best of them is mostly
    /// the luckiest. Larger data is not repeated: its folds vary less, and its typical trial costs many cheap ones (on a
    /// 3,000-row set of 80 columns, 2 repeats left 3 finished trials in 20 s).
    /// </summary>
    /// <returns>
    /// The cheap fit, what it took and whether the quarter of the budget stopped it, when a holdout was chosen (it is
    /// then the search's first trial), else null.
    /// </returns>
    private static (TrainOptions Options, Evaluation Evaluation, TimeSpan Duration, bool Stopped)? MeasuredFolds(TrainingSession session, TrainOptions cheapest,
        Func<TimeSpan> budgetLeft, IProgress<string>? progress, CancellationToken ct)
    {
        // A holdout of a few hundred rows measures noise: under a thousand rows, 5 folds (timed on the first of them);
        // above, the holdout trial is timed (the first fold's split): when a holdout is chosen, that is what it was.
        var small = session.Rows < MinHoldoutRows;
        session.Revalidate(small ? 5 : 0);
        // The featurized rows are made once per split and shared by every trial: not a trial's cost, but time spent.
        session.Prepare(cheapest);
        var left = budgetLeft();
        var timer = Stopwatch.StartNew();
        // A quarter of the budget at most: a fit stopped there means a holdout, and the booster as it stood then (a
        // partial model, measured on the holdout like any trial) is kept rather than fitted again.
        using var deadline = new CancellationTokenSource(left / 4);
        var evaluation = session.Evaluate(cheapest, null, (_, _) => false, ct, small ? default : deadline.Token);
        var stopped = !small && deadline.IsCancellationRequested;
        var fold = timer.Elapsed;
        // Under 5,000 rows a holdout of a thousand measures noise too: 3 folds at least, however short the budget.
        var folds = small || left >= fold * TrialsWanted * 5 ? 5 : left >= fold * TrialsWanted * 3 || session.Rows < MinHoldoutRows * 5 ? 3 : 0;
        var repeats = small ? (int)Math.Clamp(left / (fold * CheapTrialsPerRepeat * 5), 1, MaxRepeats) : 1;
        session.Revalidate(folds, repeats);
        progress?.Report(string.Create(CultureInfo.InvariantCulture,
            $"a cheap fit of one fold took {fold.TotalSeconds:F2} s: validating with {session.Validation}"));
        return folds == 0 ? (cheapest, evaluation, fold, stopped) : null;
    }

    /// <summary>The cheapest trial's cost times this is what a search should be able to afford per fold (about 10 typical trials).</summary>
    private const int TrialsWanted = 40;

    /// <summary>
    /// Cross-validation is repeated as many times as the budget still holds this many of the cheapest trials at that
    /// many repeats (about a hundred trials of the search, side by side and pruned, on the benchmark's small sets).
    /// </summary>
    private const int CheapTrialsPerRepeat = 20;

    /// <summary>The most times cross-validation is repeated.</summary>
    private const int MaxRepeats = 3;

    /// <summary>The fewest rows a holdout (a fifth of the data) is chosen with.</summary>
    private const int MinHoldoutRows = 1_000;

    /// <summary>
    /// Adds a finished trial to the ensemble's candidates, best first, at most <paramref name="size"/> of them. The worst
    /// goes, unless it is the best of its family: a local search fills the library with near-copies of one booster,
    /// and the linear model or a forest that would correct them (on small data often the larger gain) must stay for
    /// the ensemble to choose.
    /// </summary>
    internal static void Admit<T>(List<T> library, T entry, Func<T, double> goodness, Func<T, string> family, int size)
    {
        library.Add(entry);
        library.Sort((x, y) => goodness(y).CompareTo(goodness(x)));
        if (library.Count <= size) return;
        // Sorted: an entry has a better one of its family exactly when one comes before it.
        var drop = library.Count - 1;
        while (drop > 0 && !library.Take(drop).Any(other => family(other) == family(library[drop]))) drop--;
        library.RemoveAt(drop > 0 ? drop : library.Count - 1);
    }

    /// <summary>A model family for the ensemble's candidates: the trainer, and for LightGBM its kind of trees.</summary>
    private static string Family(TrainOptions o) => o.RandomForest ? "rf" : o.ExtraTrees ? "extra_trees" : o.Trainer;

    private static double Margin(double score) => 0.02 * Math.Abs(score) + 1e-3;

    /// <summary>Trials kept as ensemble candidates.</summary>
    private const int LibrarySize = 10;

    private static List<((Trial Trial, TrainOptions Options, Evaluation Evaluation) Entry, double Weight)>? Ensemble(
        List<(Trial Trial, TrainOptions Options, Evaluation Evaluation)> library, MlTask task, TrainingSession session, string metric, double sign, double bestScore, TimeSpan left)
    {
        if (library.Count < 2) return null;
        var (weights, score) = EnsembleSelection.Select([.. library.Select(e => e.Evaluation.Predictions)], library[0].Evaluation.Labels, task, session.Classes.Count, metric);
        var members = library.Select((e, i) => (Entry: e, Weight: weights[i])).Where(m => m.Weight > 0).ToList();
        if (members.Count < 2 || sign * (score - bestScore) <= 1e-9) return null;
        // Cross-validation: every member is fitted again on all rows; that must fit in what is left.
        var refit = session.Folds > 1 ? TimeSpan.FromTicks(members.Sum(m => m.Entry.Trial.Duration.Ticks) / session.Splits) * 1.5 : TimeSpan.Zero;
        return refit < left ? members : null;
    }

    /// <summary>The cheap, robust configurations every search begins with, cheapest first (then the linear model's L2 and <see cref="OtherTrees"/>).</summary>
    private static IEnumerable<TrainOptions> Starts(MlTask task, TrainOptions o, long rows, bool categorical, int classes)
    {
        var gbm = o with { Trainer = "lightgbm", Iterations = MaxIterations, EarlyStoppingRounds = EarlyStopping };
        // Leaves of 20 rows (LightGBM's default) cannot split a dataset of a hundred rows: smaller leaves for small data.
        var leafRows = (int)Math.Clamp(rows / 50, 2, 20);
        // A multiclass booster grows a tree per class and iteration: with many classes, larger steps and fewer
        // iterations first, so that a good model exists early.
        var rate = classes > 5 ? 2.0 : 1.0;
        // First, a model that is cheap whatever the data (FLAML starts as small): a result even from a tight budget.
        yield return gbm with { Leaves = 4, LearningRate = 0.3, MinDataInLeaf = leafRows, Iterations = 200 };
        // ML.NET averages the loss: an L2 of 1 (L-BFGS's default) flattens a linear model on small data. SDCA's own
        // choice for regression is about 1e-3 on small data; it is given, so that the search below can move from it.
        yield return task == MlTask.Regression ? o with { Trainer = "sdca", Iterations = 100, L2 = 1e-3 } : o with { Trainer = "lbfgs", Iterations = 100, L2 = 0.1 };
        yield return gbm with { Leaves = 31, LearningRate = 0.05 * rate, MinDataInLeaf = leafRows, FeatureFraction = 0.9, BaggingFraction = 0.8 };
        yield return gbm with { Leaves = 15, LearningRate = 0.1 * rate, MinDataInLeaf = 5, FeatureFraction = 0.7, L2 = 1 };
        // Categories split natively, in groups, rather than one-hot: the featurization is part of the search.
        if (categorical) yield return gbm with { Leaves = 15, LearningRate = 0.1 * rate, MinDataInLeaf = leafRows, FeatureFraction = 0.8, L2 = 1, NativeCategories = true };
        // Randomized trees, which win where boosting overfits (small, noisy data) and differ enough from it to help an
        // ensemble: extremely randomized boosted trees, then a random forest (bagged deep trees, averaged) of 100 trees
        // per class, as scikit-learn's: its loss gains little beyond them, and 500 deep trees took a third of a 20 s
        // budget on 4,000 rows.
        yield return gbm with { Leaves = 31, LearningRate = 0.1 * rate, MinDataInLeaf = leafRows, FeatureFraction = 0.8, ExtraTrees = true };
        yield return gbm with { RandomForest = true, Leaves = 255, MinDataInLeaf = Math.Max(1, leafRows / 4), FeatureFraction = 0.6, BaggingFraction = 0.632, Iterations = 100 };
    }

    /// <summary>ML.NET's tree learners: different enough to help an ensemble, but slow (one-vs-all on many classes).</summary>
    private static IEnumerable<TrainOptions> OtherTrees(TrainOptions o)
    {
        yield return o with { Trainer = "fastforest", Iterations = 100, Leaves = 32 };
        yield return o with { Trainer = "fasttree", Iterations = 100, Leaves = 20, LearningRate = 0.2 };
    }

    /// <summary>The longest time a trainer took so far, or a guess from LightGBM's for one not tried yet.</summary>
    private static TimeSpan Expected(string trainer, Dictionary<string, TimeSpan> costs, TrainingSession session)
    {
        if (costs.TryGetValue(trainer, out var cost)) return cost;
        var lightGbm = costs.GetValueOrDefault("lightgbm", TimeSpan.FromSeconds(0.5 + session.Rows / 50_000.0));
        return trainer is "sdca" or "lbfgs" ? lightGbm : lightGbm * 3;
    }

    private static double[] RandomDirection(Random random)
    {
        var u = Enumerable.Range(0, 6).Select(_ => Gaussian(random)).ToArray();
        var norm = Math.Sqrt(u.Sum(x => x * x));
        return [.. u.Select(x => x / norm)];
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>
    /// A step from a LightGBM configuration: leaves, learning rate, leaf size and L2 move in log space, fractions
    /// linearly; <paramref name="flip"/> switches between one-hot and native categories.
    /// </summary>
    private static TrainOptions Move(TrainOptions c, double[] d, double step, bool flip) => c with
    {
        NativeCategories = c.NativeCategories != flip,
        Leaves = (int)Math.Clamp(Math.Round(Math.Exp(Math.Log(c.Leaves ?? 31) + step * d[0] * 1.5)), 2, 1024),
        LearningRate = Math.Clamp(Math.Exp(Math.Log(c.LearningRate ?? 0.1) + step * d[1]), 0.005, 0.5),
        MinDataInLeaf = (int)Math.Clamp(Math.Round(Math.Exp(Math.Log(c.MinDataInLeaf ?? 20) + step * d[2] * 1.5)), 1, 500),
        FeatureFraction = Math.Clamp((c.FeatureFraction ?? 1) + step * d[3] * 0.3, 0.3, 1),
        BaggingFraction = Math.Clamp((c.BaggingFraction ?? 1) + step * d[4] * 0.3, 0.4, 1),
        L2 = Math.Clamp(Math.Exp(Math.Log((c.L2 ?? 0) + 1e-3) + step * d[5] * 2.5), 0, 100),
    };

    /// <summary>A configuration's parameters as strings, as a run logs them.</summary>
    public static IReadOnlyDictionary<string, string> Describe(TrainOptions o)
    {
        var p = new Dictionary<string, string>(StringComparer.Ordinal) { ["trainer"] = o.Trainer, ["iterations"] = Text(o.Iterations) };
        if (o.Leaves is { } leaves) p["leaves"] = Text(leaves);
        if (o.LearningRate is { } rate) p["learning_rate"] = Text(rate);
        if (o.MinDataInLeaf is { } min) p["min_data_in_leaf"] = Text(min);
        if (o.FeatureFraction is { } ff) p["feature_fraction"] = Text(ff);
        if (o.BaggingFraction is { } bf) p["bagging_fraction"] = Text(bf);
        if (o.L2 is { } l2) p["l2"] = Text(l2);
        if (o.EarlyStoppingRounds > 0) p["early_stopping_rounds"] = Text(o.EarlyStoppingRounds);
        p["folds"] = Text(o.Folds); // the search's validation (0: a holdout), which a resumed search keeps
        if (o.Repeats > 1) p["repeats"] = Text(o.Repeats);
        if (o.NativeCategories) p["categories"] = "native";
        if (o.RandomForest) p["boosting"] = "rf";
        if (o.ExtraTrees) p["extra_trees"] = "true";
        return p;
    }

    /// <summary>The configuration a trial's parameters (<see cref="Describe"/>) stand for, on top of the search's base options.</summary>
    /// <exception cref="DataFormatException">A parameter is not a number where one is expected.</exception>
    public static TrainOptions Configure(IReadOnlyDictionary<string, string> parameters, TrainOptions baseOptions)
    {
        double? Number(string key) => !parameters.TryGetValue(key, out var text) ? null
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value
            : throw new DataFormatException($"trial parameter '{key}' is '{text}', not a number");
        int? Integer(string key) => Number(key) is { } value ? (int)value : null;
        return baseOptions with
        {
            Trainer = parameters.GetValueOrDefault("trainer", baseOptions.Trainer),
            Iterations = Integer("iterations") ?? baseOptions.Iterations,
            Leaves = Integer("leaves"),
            LearningRate = Number("learning_rate"),
            MinDataInLeaf = Integer("min_data_in_leaf"),
            FeatureFraction = Number("feature_fraction"),
            BaggingFraction = Number("bagging_fraction"),
            L2 = Number("l2"),
            EarlyStoppingRounds = Integer("early_stopping_rounds") ?? 0,
            Folds = Integer("folds") ?? baseOptions.Folds,
            Repeats = Integer("repeats") ?? 1,
            NativeCategories = parameters.GetValueOrDefault("categories") == "native",
            RandomForest = parameters.GetValueOrDefault("boosting") == "rf",
            ExtraTrees = parameters.GetValueOrDefault("extra_trees") == "true",
        };
    }

    private static string Key(IReadOnlyDictionary<string, string> parameters) =>
        string.Join(';', parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));

    // The shortest text that reads back as the same number: a trial's parameters are its exact configuration.
    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
