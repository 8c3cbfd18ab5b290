using System.Diagnostics;
using System.Globalization;
using System.Text;
using Stratus.Ml.AutoMl;
using Stratus.Ml.Data;
using Stratus.Ml.Training;

namespace Stratus.Ml.Tests.AutoMl;

public sealed class AutoMlSearchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-automl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A nonlinear binary problem (an interaction and a threshold) with noise columns, missing values and a category.</summary>
    private static string Binary(int rows, int seed = 3)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("a,b,noise,color,label\n");
        for (var i = 0; i < rows; i++)
        {
            var a = random.NextDouble() * 4 - 2;
            var b = random.NextDouble() * 4 - 2;
            var color = new[] { "red", "green", "blue" }[random.Next(3)];
            var signal = a * b + (color == "red" ? 0.8 : 0) + random.NextDouble() * 0.6;
            var aText = random.NextDouble() < 0.05 ? "" : a.ToString("F3", CultureInfo.InvariantCulture);
            csv.Append(CultureInfo.InvariantCulture, $"{aText},{b:F3},{random.NextDouble():F3},{color},{(signal > 0.4 ? "pos" : "neg")}\n");
        }
        return csv.ToString();
    }

    [Fact]
    public void Should_search_within_the_budget_and_keep_the_best_configuration()
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, Binary(600));
        var seen = new List<Trial>();
        var budget = TimeSpan.FromSeconds(10);
        var clock = Stopwatch.StartNew();

        var result = AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = budget }, _dir, seen.Add);

        var elapsed = clock.Elapsed;
        // The budget is kept to the next boosting iteration; the slack is for a machine busy with other test projects.
        Assert.True(elapsed < budget + TimeSpan.FromSeconds(1.5), $"took {elapsed.TotalSeconds:F1} s for a budget of {budget.TotalSeconds} s");
        Assert.Equal("auc", result.Metric);
        Assert.Equal(result.Trials, seen);
        // How many trials fit depends on the machine's load; the cheap starts always come first.
        Assert.True(result.Trials.Count >= 4, $"{result.Trials.Count} trials");
        Assert.Equal(["lightgbm", "lbfgs"], result.Trials.Take(2).Select(t => t.Trainer));
        // The winner is the best finished trial; the model returned is its own, or an ensemble that beats it.
        var best = result.Trials.Where(t => t.Status == "ok").MaxBy(t => t.Score)!;
        Assert.Equal(best, result.BestTrial);
        if (result.Ensemble is { } members)
        {
            Assert.Equal("ensemble", result.Best.Trainer);
            Assert.True(result.Best.Metrics["auc"] > best.Score, $"ensemble {result.Best.Metrics["auc"]} vs best {best.Score}");
            Assert.Equal(1.0, members.Sum(m => m.Weight), 9);
            Assert.Equal(members.Count, result.Best.Model.Members.Count);
        }
        else
        {
            Assert.Equal(best.Trainer, result.Best.Trainer);
            Assert.Equal(best.Score!.Value, result.Best.Metrics["auc"], 9);
        }
        // An interaction a linear model cannot see: the search must beat logistic regression clearly.
        var linear = result.Trials.First(t => t.Trainer == "lbfgs").Score!.Value;
        Assert.True(best.Score > linear + 0.05, $"best {best.Score} vs linear {linear}");
        Assert.Equal(["neg", "pos"], result.Best.Classes.Order());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Should_be_reproducible_for_a_seed_until_the_clock_differs(int parallelism)
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, Binary(300));
        // The validation given: left to the search, it is chosen by what a cheap fit measurably costs (repeated cross-
        // validation when trials are cheap), which a loaded machine may change.
        var options = new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(8), Seed = 5, Parallelism = parallelism, Folds = 5 };

        var first = AutoMlSearch.Run(parquet, profile, options, _dir);
        var second = AutoMlSearch.Run(parquet, profile, options, _dir);

        // The same seed proposes the same configurations in the same order and scores them identically. How many fit
        // in the budget, and whether an ML.NET trainer's expected time fits (which steers what follows), depends on the
        // machine's load: the first trials come before any such decision.
        Assert.True(first.Trials.Count >= 3 && second.Trials.Count >= 3, $"{first.Trials.Count} and {second.Trials.Count} trials");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(first.Trials[i].Parameters, second.Trials[i].Parameters);
            Assert.Equal(first.Trials[i].Score, second.Trials[i].Score);
        }
    }

    [Fact]
    public void Should_run_trials_side_by_side_within_the_budget()
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, Binary(600));
        var budget = TimeSpan.FromSeconds(8);
        var clock = Stopwatch.StartNew();

        var result = AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = budget, Parallelism = 2 }, _dir);

        Assert.True(clock.Elapsed < budget + TimeSpan.FromSeconds(1.5), $"took {clock.Elapsed.TotalSeconds:F1} s for a budget of {budget.TotalSeconds} s");
        // Trials are numbered in the order they were proposed, whichever ended first, and none is run twice.
        Assert.Equal(Enumerable.Range(1, result.Trials.Count), result.Trials.Select(t => t.Number));
        Assert.Equal(result.Trials.Count, result.Trials.Select(t => string.Join(';', t.Parameters.OrderBy(p => p.Key))).Distinct().Count());
        Assert.True(result.Trials.Count >= 4, $"{result.Trials.Count} trials");
        Assert.True(result.BestTrial.Score > 0.9, $"best auc {result.BestTrial.Score}");
    }

    [Fact]
    public void Should_resume_from_the_trials_completed_before_a_crash_within_the_rest_of_the_budget()
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, Binary(600));
        var budget = TimeSpan.FromSeconds(10);
        var options = new AutoMlOptions { Target = "label", Budget = budget, Seed = 9 };
        var interrupted = AutoMlSearch.Run(parquet, profile, options, _dir);
        // The process died half way through the search's trials (by count, not by clock: on a busy machine the first
        // seconds may hold one trial): what it had recorded by then is what a restart finds.
        Assert.True(interrupted.Trials.Count >= 4, $"{interrupted.Trials.Count} trials in {budget.TotalSeconds} s");
        var completed = interrupted.Trials.Take(interrupted.Trials.Count / 2).ToList();
        var spent = completed.Max(t => t.Ended);
        var lines = new List<string>();
        var clock = Stopwatch.StartNew();

        var resumed = AutoMlSearch.Run(parquet, profile, options with { Resume = [.. completed.Select(t => t with { Score = null })] }, _dir,
            progress: new Lines(lines));

        // Within what was left of the budget, not a new one.
        var elapsed = clock.Elapsed;
        Assert.True(elapsed < budget - spent + budget * 0.05, $"resumed search took {elapsed.TotalSeconds:F1} s with {(budget - spent).TotalSeconds:F1} s left");
        Assert.Contains(lines, l => l.StartsWith($"resuming after a restart: {completed.Count} trials done", StringComparison.Ordinal));
        // The completed trials are kept as they were (their scores read from their metrics) and not run again; new
        // trials are numbered after them.
        Assert.Equal(completed.Select(t => (t.Number, t.Score)), resumed.Trials.Take(completed.Count).Select(t => (t.Number, t.Score)));
        var fresh = resumed.Trials.Skip(completed.Count).ToList();
        // On the validation the interrupted search chose (folds and repeats), not one chosen again.
        Assert.All(fresh, t => Assert.Equal((completed[0].Parameters["folds"], completed[0].Parameters.GetValueOrDefault("repeats")),
            (t.Parameters["folds"], t.Parameters.GetValueOrDefault("repeats"))));
        Assert.Equal(Enumerable.Range(completed.Count + 1, fresh.Count), fresh.Select(t => t.Number));
        Assert.DoesNotContain(fresh, t => completed.Any(c => c.Parameters.OrderBy(p => p.Key).SequenceEqual(t.Parameters.OrderBy(p => p.Key))));
        // Nothing found before the crash is lost: the result is at least as good as the best completed trial.
        Assert.True(resumed.BestTrial.Score >= completed.Where(t => t.Status == "ok").Max(t => t.Score), "the best completed trial was lost");
        Assert.True(resumed.Trials.All(t => t.Ended <= budget * 1.05), "a trial ended after the budget");
    }

    /// <summary>Collects progress lines, each stamped with the time on <paramref name="clock"/> when one is given.</summary>
    private sealed class Lines(List<string> lines, Stopwatch? clock = null) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (lines) lines.Add(clock is null ? value : $"[{clock.Elapsed.TotalSeconds:F2} s] {value}");
        }
    }

    [Theory]
    [InlineData("species", null, "log_loss")]
    [InlineData("y", "rmse", "rmse")]
    [InlineData("y", null, "r2")]
    public void Should_optimize_the_task_default_or_the_named_metric(string target, string? metric, string expected)
    {
        var random = new Random(2);
        var csv = new StringBuilder("x,z,species,y\n");
        for (var i = 0; i < 150; i++)
        {
            var k = random.Next(3);
            var x = k * 2 + random.NextDouble() * 1.5;
            csv.Append(CultureInfo.InvariantCulture, $"{x:F3},{random.NextDouble():F3},{new[] { "setosa", "versicolor", "virginica" }[k]},{x * x + random.NextDouble():F3}\n");
        }
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv.ToString());

        var result = AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = target, Metric = metric, Budget = TimeSpan.FromSeconds(5) }, _dir);

        Assert.Equal(expected, result.Metric);
        Assert.True(result.BestTrial.Score is not null);
        if (expected == "rmse") Assert.Equal(result.Trials.Where(t => t.Status == "ok").Min(t => t.Score), result.BestTrial.Score);
    }

    [Theory]
    [InlineData("multiclass", "lbfgs", "0.1")] // ML.NET's default of 1 is too strong for small data
    [InlineData("regression", "sdca", "0.001")]
    public void Should_search_the_linear_models_regularization(string task, string trainer, string start)
    {
        // A line explains the target, with few rows: the linear model's L2 matters.
        var random = new Random(6);
        var csv = new StringBuilder("x,z,label\n");
        for (var i = 0; i < 120; i++)
        {
            var k = random.Next(3);
            var x = k * 1.2 + random.NextDouble() * 1.5;
            var label = task == "regression" ? (3 * x + random.NextDouble()).ToString("F3", CultureInfo.InvariantCulture) : "abc"[k].ToString();
            csv.Append(CultureInfo.InvariantCulture, $"{x:F3},{random.NextDouble():F3},{label}\n");
        }
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv.ToString());

        // 5 folds given, not repeated: on a busy machine 15 fits of an ML.NET linear model per trial could exceed the half
        // of the budget a trainer never timed may take, and what is tested here is the search of its L2.
        var result = AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(20), Folds = 5 }, _dir);

        var linear = result.Trials.Where(t => t.Trainer == trainer).ToList();
        Assert.True(linear.Count >= 3, $"{linear.Count} linear trials: " + string.Join("; ", result.Trials.Select(t => $"{t.Number} {t.Trainer} {t.Status} {t.Duration.TotalSeconds:F2}s {t.Error}")));
        Assert.Equal(start, linear[0].Parameters["l2"]);
        var l2 = double.Parse(start, CultureInfo.InvariantCulture);
        Assert.Contains(linear, t => t.Parameters.GetValueOrDefault("l2") == Math.Round(l2 / 10, 6).ToString(CultureInfo.InvariantCulture));
        Assert.Contains(linear, t => t.Parameters.GetValueOrDefault("l2") == Math.Round(l2 * 10, 6).ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Should_refuse_a_metric_that_does_not_fit_the_task()
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, Binary(60));
        var ex = Assert.Throws<DataFormatException>(() => AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Metric = "rmse", Budget = TimeSpan.FromSeconds(5) }, _dir));
        Assert.Contains("metric 'rmse' does not apply to binary", ex.Message);
    }

    [Fact]
    public void Should_say_so_when_the_budget_is_too_small_for_any_trial()
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, Binary(60));
        var clock = Stopwatch.StartNew();
        var ex = Assert.Throws<DataFormatException>(() => AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromMilliseconds(1) }, _dir));
        Assert.Contains("a budget of 0.001 s is too small for 60 rows x 4 features", ex.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), "the refusal came after work");
    }

    /// <summary>Numeric columns only: a linear signal in the first few, noise in the rest.</summary>
    private static string Numeric(int rows, int columns, Func<double[], Random, string> label, int seed = 4)
    {
        var random = new Random(seed);
        var csv = new StringBuilder(string.Join(',', Enumerable.Range(0, columns).Select(c => $"x{c}")) + ",label\n");
        var x = new double[columns];
        for (var i = 0; i < rows; i++)
        {
            for (var c = 0; c < columns; c++) x[c] = Math.Round(random.NextDouble() * 2 - 1, 3);
            csv.Append(string.Join(',', x.Select(v => v.ToString(CultureInfo.InvariantCulture)))).Append(',').Append(label(x, random)).Append('\n');
        }
        return csv.ToString();
    }

    [Theory]
    [InlineData("rows-100000", 12)]
    [InlineData("classes-26", 12)]
    public void Should_end_within_5_percent_of_the_budget_with_a_model_whatever_the_data(string shape, int seconds)
    {
        // 100,000 rows of 10 columns, or 26 classes over 16 columns (as UCI's letter): data whose trials are costly.
        var csv = shape == "rows-100000"
            ? Numeric(100_000, 10, (x, r) => x[0] + x[1] * x[2] + r.NextDouble() * 0.5 > 0.2 ? "yes" : "no")
            : Numeric(8_000, 16, (x, r) => $"c{Math.Clamp((int)(((x[0] + 1) / 2 + 0.05 * x[1] * x[2] + 0.02 * r.NextDouble()) * 26), 0, 25)}");
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv);
        var budget = TimeSpan.FromSeconds(seconds);
        var lines = new List<string>();
        var clock = Stopwatch.StartNew();

        var result = AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = budget }, _dir, progress: new Lines(lines, clock));

        var elapsed = clock.Elapsed;
        Assert.True(elapsed <= budget * 1.05, $"took {elapsed.TotalSeconds:F2} s for a budget of {seconds} s:\n{string.Join('\n', lines)}");
        Assert.NotNull(result.Best.Model);
        // A model finished, or (a machine so busy that the budget stopped every booster) the best one stopped, which says so.
        if (!result.Trials.Any(t => t.Status == "ok"))
        {
            Assert.True(result.Partial);
            Assert.Contains(lines, l => l.Contains("was stopped by the budget", StringComparison.Ordinal));
        }
        // Costly trials: the validation chosen by what they cost (a holdout here), and more than one model measured
        // even on a machine busy with other test projects: the cheap fit that chose the holdout is one of them, finished
        // or stopped by its share of the budget (then kept as it stood, never fitted again), and the search went on.
        Assert.Contains(lines, l => l.Contains("] a cheap fit of one fold took", StringComparison.Ordinal));
        Assert.Equal("holdout 20%", result.Best.Validation);
        Assert.Equal(1, result.Trials.Count(t => t.Trainer == "lightgbm" && t.Parameters.GetValueOrDefault("leaves") == "4"));
        Assert.True(result.Trials.Count(t => t.Status is "ok" or "timeout" && t.Score is not null) >= 2, $"{result.Trials.Count} trials:\n{string.Join('\n', lines)}");
        if (shape == "classes-26")
        {
            Assert.Equal(26, result.Best.Classes.Count);
            Assert.True(result.Best.Metrics["accuracy"] > 0.5, $"accuracy {result.Best.Metrics["accuracy"]}:\n{string.Join('\n', lines)}");
        }
        else
        {
            Assert.True(result.Best.Metrics["auc"] > 0.9, $"auc {result.Best.Metrics["auc"]}");
        }
    }

    [Fact]
    public void Should_cross_validate_cheap_data_and_hold_out_when_trials_cost_too_much_for_the_budget()
    {
        var (small, smallProfile) = StoredCsv.Ingest(_dir, Binary(300));
        var lines = new List<string>();
        var cheap = AutoMlSearch.Run(small, smallProfile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(10) }, _dir, progress: new Lines(lines));
        // Cheap trials on a few hundred rows: 5 folds, repeated on other splits as often as the budget affords (the
        // cheap fit's time says how often; a loaded machine may afford fewer).
        var fit = lines.Single(l => l.StartsWith("a cheap fit of one fold took ", StringComparison.Ordinal));
        var seconds = double.Parse(fit["a cheap fit of one fold took ".Length..].Split(' ')[0], CultureInfo.InvariantCulture);
        // Repeats while the budget left (9 to 10 s by then) holds 20 cheap trials of 5 folds each time.
        var repeats = cheap.Best.Validation.EndsWith(" times", StringComparison.Ordinal) ? int.Parse(cheap.Best.Validation.Split(' ')[^2], CultureInfo.InvariantCulture) : 1;
        Assert.InRange(repeats, Math.Clamp((int)(9 / (seconds * 100)), 1, 3), Math.Clamp((int)(10 / (Math.Max(seconds - 0.005, 1e-3) * 100)), 1, 3));
        Assert.StartsWith("5-fold cross-validation", cheap.Best.Validation);
        Assert.EndsWith(cheap.Best.Validation, fit);
        Assert.All(cheap.Trials, t => Assert.Equal(("5", repeats > 1 ? repeats.ToString(CultureInfo.InvariantCulture) : null),
            (t.Parameters["folds"], t.Parameters.GetValueOrDefault("repeats"))));

        // The same number of rows, but 26 classes and a budget a few cheap fits long: a holdout.
        var (costly, costlyProfile) = StoredCsv.Ingest(_dir, Numeric(6_000, 16, (x, r) => $"c{Math.Clamp((int)((x[0] + x[1] + 2) / 4 * 26 + r.NextDouble()), 0, 25)}"));
        var held = AutoMlSearch.Run(costly, costlyProfile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(5) }, _dir);
        Assert.Equal("holdout 20%", held.Best.Validation);
        Assert.All(held.Trials, t => Assert.Equal("0", t.Parameters["folds"]));
    }

    [Fact]
    public void Should_refuse_data_no_search_can_learn_from_before_spending_the_budget()
    {
        // More columns than rows.
        var (wide, wideProfile) = StoredCsv.Ingest(_dir, Numeric(30, 40, (x, _) => x[0] > 0 ? "a" : "b"));
        var refused = AutoMlSearch.Refusal(wideProfile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(10) });
        Assert.Equal("dataset", refused?.Field);
        Assert.Contains("30 rows have a target and there are 40 feature columns", refused?.Reason);
        Assert.Throws<DataFormatException>(() => AutoMlSearch.Run(wide, wideProfile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(10) }, _dir));

        // One class only.
        var (one, oneProfile) = StoredCsv.Ingest(_dir, Numeric(50, 3, (_, _) => "same"));
        Assert.Equal("target", AutoMlSearch.Refusal(oneProfile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(10) })?.Field);

        // A regression target with NaN, or with infinities.
        foreach (var bad in new[] { "nan", "NaN" })
        {
            var (parquet, profile) = StoredCsv.Ingest(_dir, Numeric(100, 3, (x, r) => r.NextDouble() < 0.05 || x[1] > 0.95 ? bad : (x[0] * 10).ToString("F2", CultureInfo.InvariantCulture)));
            var label = profile.Single(c => c.Name == "label");
            Assert.True(label.NonFinite > 0, $"{bad}: {label}");
            var clock = Stopwatch.StartNew();
            var ex = Assert.Throws<DataFormatException>(() => AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(10) }, _dir));
            Assert.Contains("NaN or infinite", ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), "the refusal came after the search began");
        }

        // Infinities, which a Parquet upload carries as numbers (a CSV's "inf" reads as text): counted by the profile
        // (the statistics stay those of the finite values) and refused as a regression target.
        foreach (var bad in new[] { "'inf'::DOUBLE", "'-inf'::DOUBLE" })
        {
            var source = Path.Combine(_dir, $"{Guid.NewGuid():N}.parquet");
            using (var connection = DuckDb.Open(_dir))
            using (var command = connection.CreateCommand())
            {
                command.CommandText = $"COPY (SELECT range::DOUBLE AS x, range % 7 AS z, CASE WHEN range % 40 = 3 THEN {bad} ELSE range * 1.5 END AS label FROM range(200)) " +
                    $"TO {DuckDb.Literal(source)} (FORMAT parquet)";
                command.ExecuteNonQuery();
            }
            var parquet = Path.ChangeExtension(source, ".stored.parquet");
            var (_, profile) = DatasetIngestor.Ingest(source, SourceFormat.Parquet, parquet, _dir);
            var label = profile.Single(c => c.Name == "label");
            Assert.Equal(5, label.NonFinite);
            Assert.True(label.Max is { } max && double.IsFinite(max) && label.Mean is { } mean && double.IsFinite(mean), $"{label}");
            var ex = Assert.Throws<DataFormatException>(() => AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(10) }, _dir));
            Assert.Contains("holds 5 values that are NaN or infinite", ex.Message);
        }

        // A budget far too short for the data's size, named with what it would take.
        var (large, largeProfile) = StoredCsv.Ingest(_dir, Numeric(50_000, 10, (x, _) => x[0] > 0 ? "a" : "b"));
        var tight = AutoMlSearch.Refusal(largeProfile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(0.5) });
        Assert.Equal("budget_seconds", tight?.Field);
        Assert.Contains("too small for 50,000 rows x 10 features", tight?.Reason);
    }

    [Fact]
    public void Should_handle_tiny_data_with_a_rare_class_and_constant_columns()
    {
        var csv = new StringBuilder("x,constant,id_like,label\n");
        var random = new Random(1);
        for (var i = 0; i < 50; i++) csv.Append(CultureInfo.InvariantCulture, $"{random.NextDouble():F3},7,row{i},{(i % 12 == 0 ? "rare" : "common")}\n");
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv.ToString());

        var result = AutoMlSearch.Run(parquet, profile, new AutoMlOptions { Target = "label", Budget = TimeSpan.FromSeconds(3) }, _dir);

        Assert.Contains(result.Trials, t => t.Status == "ok");
        Assert.NotNull(result.Best.Model);
    }

    [Fact]
    public void Should_select_an_ensemble_of_complementary_models()
    {
        // Model A is right on the first half of the rows and guesses on the second; model B the other way round.
        var labels = Enumerable.Range(0, 200).Select(i => (float)(i % 2)).ToArray();
        double[] Model(bool firstHalf) => [.. labels.Select((y, i) => (i < 100) == firstHalf ? (y == 1 ? 0.9 : 0.1) : 0.5 + 0.1 * Math.Sin(i))];
        double[] noise = [.. labels.Select((_, i) => 0.5 + 0.3 * Math.Cos(i * 7.0))];

        var (weights, score) = EnsembleSelection.Select([Model(true), Model(false), noise], labels, MlTask.BinaryClassification, 2, "log_loss");

        Assert.True(weights[0] > 0.3 && weights[1] > 0.3, string.Join(", ", weights));
        Assert.Equal(0, weights[2]);
        var single = new[] { Model(true), Model(false) }.Min(p => ModelMetrics.Compute(MlTask.BinaryClassification, labels, p, 2).Metrics["log_loss"]);
        Assert.True(score < single, $"ensemble {score} vs best single {single}");
    }

    [Fact]
    public void Should_keep_the_best_of_each_model_family_as_an_ensemble_candidate()
    {
        // A local search finds one booster after another that beats the linear model: the linear model, and a
        // forest, stay candidates; the worst boosters go.
        var library = new List<(string Family, double Score)>();
        void Admit(string family, double score, int size = 4) => AutoMlSearch.Admit<(string Family, double Score)>(library, (family, score), e => e.Score, e => e.Family, size);
        Admit("lbfgs", 0.80);
        Admit("rf", 0.82);
        foreach (var score in new[] { 0.90, 0.91, 0.85, 0.93, 0.92, 0.86 }) Admit("lightgbm", score);

        Assert.Equal([("lightgbm", 0.93), ("lightgbm", 0.92), ("rf", 0.82), ("lbfgs", 0.80)], library);

        // With one member per family, the worst goes.
        library.Clear();
        foreach (var (family, score) in new[] { ("a", 0.5), ("b", 0.7), ("c", 0.6) }) Admit(family, score, size: 2);
        Assert.Equal([("b", 0.7), ("c", 0.6)], library);
    }
}
