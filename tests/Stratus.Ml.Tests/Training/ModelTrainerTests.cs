using System.Globalization;
using System.Text;
using Stratus.Ml.Data;
using Stratus.Ml.Training;

namespace Stratus.Ml.Tests.Training;

public sealed class ModelTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes CSV text, ingests it like an upload, and returns the Parquet file and its profile.</summary>
    private (string Parquet, IReadOnlyList<ColumnProfile> Profile) Dataset(string csv) => StoredCsv.Ingest(_dir, csv);

    /// <summary>Card transactions: fraud is large, far from home, at night, card not present; with missing values and dates.</summary>
    private static string Transactions(int rows, int seed = 7)
    {
        var random = new Random(seed);
        string[] categories = ["grocery", "fuel", "electronics", "travel", "online"];
        var csv = new StringBuilder("amount,category,hour,distance_km,card_present,day,fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var fraud = random.NextDouble() < 0.15;
            var amount = Math.Round(Math.Exp(3 + random.NextDouble()) * (fraud ? 5 : 1), 2);
            var hour = fraud && random.NextDouble() < 0.7 ? random.Next(0, 5) : random.Next(7, 23);
            var distance = random.NextDouble() < 0.05 ? "" : Math.Round(random.NextDouble() * (fraud ? 500 : 20), 1).ToString(CultureInfo.InvariantCulture);
            var category = fraud && random.NextDouble() < 0.5 ? "electronics" : categories[random.Next(categories.Length)];
            csv.Append(CultureInfo.InvariantCulture, $"{amount},{category},{hour},{distance},{(fraud && random.NextDouble() < 0.8 ? 0 : 1)},2024-0{1 + random.Next(9)}-1{random.Next(10)},{(fraud ? 1 : 0)}\n");
        }
        return csv.ToString();
    }

    [Fact]
    public void Should_decide_the_task_and_classes_from_exact_counts_not_estimates()
    {
        // mlbench's DNA data: a 3-class target (n, ei, ie) whose HyperLogLog estimate was 2, so the model was trained
        // as binary and never predicted 'ei'.
        var random = new Random(11);
        var csv = new StringBuilder("a,b,Class\n");
        for (var i = 0; i < 900; i++)
        {
            var k = i % 3;
            csv.Append(CultureInfo.InvariantCulture, $"{k + random.NextDouble() * 0.8:F3},{random.NextDouble():F3},{new[] { "n", "ei", "ie" }[k]}\n");
        }
        var (parquet, profile) = Dataset(csv.ToString());
        using (var connection = DuckDb.Open(_dir))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT approx_count_distinct(Class) FROM read_parquet({DuckDb.Literal(parquet)})";
            Assert.Equal(2L, Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture)); // the estimate that misled
        }

        Assert.Equal(3, profile.Single(c => c.Name == "Class").Distinct);
        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "Class" }, _dir);
        Assert.Equal(MlTask.MulticlassClassification, result.Task);
        Assert.Equal(["ei", "ie", "n"], result.Classes);
        Assert.Equal(3, result.ConfusionMatrix!.Count);

        // A stale profile that still says 2 is caught before anything is trained as binary.
        var stale = profile.Select(c => c.Name == "Class" ? c with { Distinct = 2 } : c).ToList();
        var refused = Assert.Throws<DataFormatException>(() => ModelTrainer.Train(parquet, stale, new TrainOptions { Target = "Class" }, _dir));
        Assert.Equal("target column 'Class' has more than 2 distinct values; binary classification needs exactly 2 (train it as multiclass)", refused.Message);
    }

    [Fact]
    public void Should_train_binary_classification_from_the_profile_with_cross_validation()
    {
        var (parquet, profile) = Dataset(Transactions(1500));

        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "fraud" }, _dir);

        Assert.Equal(MlTask.BinaryClassification, result.Task);
        Assert.Equal(["0", "1"], result.Classes);
        Assert.Equal("5-fold cross-validation", result.Validation);
        Assert.True(result.Metrics["auc"] > 0.95, $"auc {result.Metrics["auc"]}");
        Assert.InRange(result.Metrics["accuracy"], 0.9, 1);
        Assert.Equal(1500, result.ConfusionMatrix!.Sum(r => r.Sum()));
        Assert.Contains(result.Features, f => f.Name == "day_month" && f.Kind == FeatureKind.Numeric);
        Assert.Contains(result.Features, f => f.Name == "category" && f.Kind == FeatureKind.Categorical);
        // Permutation importance ranks the columns that drive fraud above the calendar noise.
        Assert.Equal(["amount", "card_present", "category", "day", "distance_km", "hour"], result.FeatureImportance.Keys.Order());
        Assert.True(result.FeatureImportance["amount"] > result.FeatureImportance["day"], string.Join(", ", result.FeatureImportance));
    }

    [Theory]
    [InlineData("fasttree")]
    [InlineData("fastforest")]
    [InlineData("sdca")]
    [InlineData("lbfgs")]
    public void Should_train_every_binary_trainer(string trainer)
    {
        var (parquet, profile) = Dataset(Transactions(800));
        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "fraud", Trainer = trainer, Folds = 2, Iterations = 20 }, _dir);
        Assert.True(result.Metrics["auc"] > 0.85, $"{trainer}: auc {result.Metrics["auc"]}");
    }

    [Fact]
    public void Should_train_multiclass_on_a_text_target()
    {
        var random = new Random(3);
        var csv = new StringBuilder("x,y,species\n");
        for (var i = 0; i < 600; i++)
        {
            var k = random.Next(3);
            csv.Append(CultureInfo.InvariantCulture, $"{k * 2 + random.NextDouble():F3},{random.NextDouble():F3},{new[] { "setosa", "versicolor", "virginica" }[k]}\n");
        }
        var (parquet, profile) = Dataset(csv.ToString());

        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "species", Iterations = 30 }, _dir);

        Assert.Equal(MlTask.MulticlassClassification, result.Task);
        Assert.Equal(["setosa", "versicolor", "virginica"], result.Classes.Order());
        Assert.True(result.Metrics["accuracy"] > 0.9, $"accuracy {result.Metrics["accuracy"]}");
    }

    [Fact]
    public void Should_train_regression_and_reproduce_it_with_the_same_seed()
    {
        var random = new Random(5);
        var csv = new StringBuilder("x,z,y\n");
        for (var i = 0; i < 800; i++)
        {
            var x = random.NextDouble() * 10;
            csv.Append(CultureInfo.InvariantCulture, $"{x:F4},{random.NextDouble():F4},{3 * x + random.NextDouble():F4}\n");
        }
        var (parquet, profile) = Dataset(csv.ToString());

        var first = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "y", Seed = 11 }, _dir);
        var second = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "y", Seed = 11 }, _dir);

        Assert.Equal(MlTask.Regression, first.Task);
        Assert.True(first.Metrics["r2"] > 0.95, $"r2 {first.Metrics["r2"]}");
        Assert.Equal(first.Metrics, second.Metrics);
    }

    [Theory]
    [InlineData("missing", "does not exist")]
    [InlineData("constant", "constant")]
    public void Should_refuse_a_bad_target_before_training(string target, string expected)
    {
        var (parquet, profile) = Dataset("a,constant\n1,5\n2,5\n3,5\n");
        var ex = Assert.Throws<DataFormatException>(() => ModelTrainer.Train(parquet, profile, new TrainOptions { Target = target }, _dir));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Should_refuse_a_dataset_without_usable_features()
    {
        var (parquet, profile) = Dataset("same,label\n1,0\n1,1\n1,0\n1,1\n");
        Assert.Contains("no usable feature", Assert.Throws<DataFormatException>(() => ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "label" }, _dir)).Message);
    }

    [Fact]
    public void Should_refuse_an_unknown_trainer()
    {
        var (parquet, profile) = Dataset(Transactions(50));
        Assert.Contains("not one of", Assert.Throws<DataFormatException>(() => ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "fraud", Trainer = "xgboost" }, _dir)).Message);
    }

    private sealed class Lines(Action<string>? onLine = null) : IProgress<string>
    {
        public List<string> All { get; } = [];

        public void Report(string value)
        {
            lock (All) All.Add(value);
            onLine?.Invoke(value);
        }
    }

    [Fact]
    public void Should_record_a_learning_curve_and_report_lightgbm_iterations_live()
    {
        var (parquet, profile) = Dataset(Transactions(1500));
        var lines = new Lines();

        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "fraud", Folds = 3, Iterations = 40 }, _dir, lines);

        var curve = result.Curve!;
        Assert.Equal(["train.auc", "train.log_loss", "valid.auc", "valid.log_loss"], curve.Series.Keys.Order());
        Assert.All(curve.Series.Values, s => Assert.Equal(40, s.Length));
        var train = curve.Series["train.log_loss"];
        var valid = curve.Series["valid.log_loss"];
        Assert.True(train[^1] < train[0] / 2, $"training loss {train[0]} -> {train[^1]}");
        Assert.True(valid.Min() < valid[0], "validation loss never improved");
        // The curve's last validation AUC is the folds' average, as the reported metric is.
        Assert.Equal(result.Metrics["auc"], curve.Series["valid.auc"][^1], 2);
        Assert.Equal(40, result.Model.Booster!.Iterations);
        Assert.Contains(lines.All, l => l.StartsWith("fold 2/3: iteration 1/40, valid log_loss", StringComparison.Ordinal));
        Assert.Contains(lines.All, l => l.StartsWith("fold 3/3: iteration 40/40, valid log_loss", StringComparison.Ordinal) && l.Contains("auc"));
        Assert.Contains(lines.All, l => l.StartsWith("final: iteration 40/40, train log_loss", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_measure_the_training_curve_on_a_sample_of_large_training_sets()
    {
        var (parquet, profile) = Dataset(Transactions(26_000));

        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "fraud", Iterations = 15 }, _dir);

        // 26,000 rows: a 20% holdout, 20,800 training rows, above the sampling threshold.
        Assert.Equal("holdout 20%", result.Validation);
        var curve = result.Curve!;
        Assert.All(curve.Series.Values, s => Assert.Equal(15, s.Length));
        Assert.True(curve.Series["train.log_loss"][^1] < curve.Series["train.log_loss"][0]);
        Assert.InRange(curve.Series["train.auc"][^1], curve.Series["valid.auc"][^1] - 0.05, 1);
        Assert.Equal(result.Metrics["auc"], curve.Series["valid.auc"][^1], 6);
    }

    [Fact]
    public void Should_stop_early_when_the_validation_loss_stops_improving()
    {
        var (parquet, profile) = Dataset(Transactions(1500));

        var result = ModelTrainer.Train(parquet, profile,
            new TrainOptions { Target = "fraud", Folds = 3, Iterations = 2000, LearningRate = 0.5, EarlyStoppingRounds = 10 }, _dir);

        // Each fold stops on its own; the number of trees is then chosen once, where the folds' mean validation loss
        // is lowest, the folds are measured there, and the final model boosts that long.
        var iterations = result.Model.Booster!.Iterations;
        var mean = result.Curve!.Series["valid.log_loss"];
        Assert.InRange(iterations, 1, 1000);
        Assert.True(mean.Length < 2000);
        Assert.Equal(Array.IndexOf(mean, mean.Min()) + 1, result.Curve.BestIteration);
        Assert.Equal(result.Curve.BestIteration, iterations);
        Assert.Equal(mean.Min(), result.Metrics["log_loss"], 4);
    }

    [Fact]
    public void Should_measure_feature_importance_on_fewer_rows_when_time_is_short_and_not_at_all_when_far_too_short()
    {
        var (parquet, profile) = Dataset(Transactions(3000));
        var options = new TrainOptions { Target = "fraud", Trainer = "fastforest", Folds = 2 };
        using var session = TrainingSession.Open(parquet, profile, options, _dir);
        var model = session.FitFinal(options, null, TestContext.Current.CancellationToken);

        var full = session.Importance(model);
        // Timed once warm (the first call compiles the scoring path): half of that is short. A measure that would
        // overrun its allowance gives nothing, so a try that a loaded machine slowed may come back empty: three tries.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(full, session.Importance(model, TimeSpan.FromHours(1)));
        var allowed = clock.Elapsed / 2;
        var hurried = Enumerable.Range(0, 3).Select(_ => session.Importance(model, allowed)).FirstOrDefault(i => i.Count > 0) ?? new Dictionary<string, double>();

        // Fewer rows were scored (the same rows would give the same values, seed for seed), yet every column is
        // measured and the strongest signal still leads.
        Assert.NotEqual(full.Values, hurried.Values);
        Assert.Equal(full.Keys.Order(), hurried.Keys.Order());
        Assert.Equal(full.First().Key, hurried.First().Key);
        // Even a few hundred rows per column would take far longer than allowed: nothing measured, rather than the
        // caller's time taken.
        Assert.Empty(session.Importance(model, TimeSpan.FromTicks(1)));
    }

    [Fact]
    public void Should_cancel_lightgbm_between_iterations()
    {
        var (parquet, profile) = Dataset(Transactions(1500));
        using var cts = new CancellationTokenSource();
        var lines = new Lines(line =>
        {
            if (line.Contains("iteration", StringComparison.Ordinal)) cts.Cancel();
        });
        var started = System.Diagnostics.Stopwatch.StartNew();

        Assert.ThrowsAny<OperationCanceledException>(() => ModelTrainer.Train(parquet, profile,
            new TrainOptions { Target = "fraud", Folds = 2, Iterations = 1_000_000, LearningRate = 0.001 }, _dir, lines, cts.Token));

        // A million iterations would take hours: the fit stopped at the next iteration, not at its end.
        Assert.Single(lines.All, l => l.Contains("iteration", StringComparison.Ordinal));
        Assert.True(started.Elapsed < TimeSpan.FromMinutes(2), $"took {started.Elapsed}");
    }

    [Theory]
    [InlineData("lbfgs")]
    [InlineData("sdca")]
    [InlineData("fasttree")]
    [InlineData("fastforest")]
    public void Should_cancel_an_ml_net_trainer_mid_fit(string trainer)
    {
        Assert.True(MlCancellation.Supported, "this ML.NET has no internal CancelExecution: its fits can no longer be stopped");
        // 12 classes of 20,000 rows, fitted one-versus-all or as one softmax with next to no regularization, for far
        // more iterations than they need.
        var random = new Random(5);
        var csv = new StringBuilder(string.Join(',', Enumerable.Range(0, 12).Select(c => $"x{c}")) + ",label\n");
        for (var i = 0; i < 20_000; i++)
        {
            var x = Enumerable.Range(0, 12).Select(_ => random.NextDouble()).ToArray();
            csv.Append(string.Join(',', x.Select(v => v.ToString("F4", CultureInfo.InvariantCulture)))).Append(",c").Append((int)(x[0] * 11.99)).Append('\n');
        }
        var (parquet, profile) = Dataset(csv.ToString());
        var options = new TrainOptions { Target = "label", Trainer = trainer, Folds = 2, Iterations = trainer is "lbfgs" or "sdca" ? 100_000 : 20_000, L2 = 1e-6 };
        using var session = TrainingSession.Open(parquet, profile, options, _dir);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var started = System.Diagnostics.Stopwatch.StartNew();

        Assert.ThrowsAny<OperationCanceledException>(() => session.Evaluate(options, null, null, cts.Token));

        // Uncancelled, these fits take 10 s (L-BFGS) to minutes: the trainer stopped at its next check, not at its end.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"took {started.Elapsed}");
    }

    [Fact]
    public void Should_repeat_cross_validation_on_other_splits_and_count_each_row_once_in_the_confusion()
    {
        var (parquet, profile) = Dataset(Transactions(600));
        var options = new TrainOptions { Target = "fraud", Iterations = 30, Folds = 5 };
        using var session = TrainingSession.Open(parquet, profile, options, _dir);
        var once = session.Evaluate(options, null, null, CancellationToken.None);

        session.Revalidate(5, 3);
        var lines = new Lines();
        var thrice = session.Evaluate(options, lines, null, CancellationToken.None);

        Assert.Equal(("5-fold cross-validation repeated 3 times", 5, 3, 15), (session.Validation, session.Folds, session.Repeats, session.Splits));
        Assert.Equal(15, thrice.Folds);
        // Every row is scored once per repeat; the first repeat is the single cross-validation's splits, exactly.
        Assert.Equal(3 * 600, thrice.Labels.Length);
        Assert.Equal(once.Predictions, thrice.Predictions.Take(once.Predictions.Length));
        Assert.Equal(once.PerFold, thrice.PerFold.Take(5));
        // The other repeats hold out other rows (the labels of each repeat are the same rows, in another order).
        Assert.NotEqual(thrice.Labels.Take(600), thrice.Labels.Skip(600).Take(600));
        Assert.Equal(thrice.Labels.Take(600).Order(), thrice.Labels.Skip(600).Take(600).Order());
        Assert.Equal(600, thrice.Confusion!.Sum(r => r.Sum()));
        Assert.Contains(lines.All, l => l.StartsWith("fold 5/5 of repeat 3/3 in ", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_keep_a_holdout_booster_as_it_stands_when_told_to_stop_and_validate_on_the_first_folds_rows()
    {
        var (parquet, profile) = Dataset(Transactions(1500));
        var options = new TrainOptions { Target = "fraud", Iterations = 1_000_000, LearningRate = 0.001, Folds = 5 };
        using var session = TrainingSession.Open(parquet, profile, options, _dir);
        var first = session.Evaluate(options with { Iterations = 30 }, null, (_, _) => false, CancellationToken.None);
        session.Revalidate(0);
        Assert.Equal(("holdout 20%", 0), (session.Validation, session.Folds));
        using var stop = new CancellationTokenSource();
        var lines = new Lines(line =>
        {
            if (line.Contains("iteration 1/", StringComparison.Ordinal)) stop.Cancel();
        });

        var cut = session.Evaluate(options, lines, null, CancellationToken.None, stop.Token);

        // A million iterations would take hours: the booster stopped at the next one and was measured as it stood.
        Assert.NotNull(cut.Model);
        Assert.InRange(cut.Curve!.Series["valid.log_loss"].Length, 1, 2);
        Assert.True(cut.Metrics["auc"] > 0.5, $"auc {cut.Metrics["auc"]}");
        // The holdout is the first fold's split: the same rows were held out.
        Assert.Equal(first.Labels, cut.Labels);
    }

    [Fact]
    public void Should_train_multiclass_with_an_ml_net_trainer_in_class_order()
    {
        var random = new Random(4);
        var csv = new StringBuilder("x,label\n");
        for (var i = 0; i < 300; i++)
        {
            // Classes appear in the data in the order c, a, b; the model's scores follow the sorted order a, b, c.
            var k = i % 3;
            csv.Append(CultureInfo.InvariantCulture, $"{k * 10 + random.NextDouble():F3},{new[] { "c", "a", "b" }[k]}\n");
        }
        var (parquet, profile) = Dataset(csv.ToString());

        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "label", Trainer = "sdca", Folds = 2 }, _dir);

        Assert.Equal(["a", "b", "c"], result.Classes);
        Assert.True(result.Metrics["accuracy"] > 0.95, $"accuracy {result.Metrics["accuracy"]}");
        Assert.Equal(3, result.ConfusionMatrix!.Count);
        Assert.Equal(300, result.ConfusionMatrix.Sum(r => r.Sum()));
        Assert.True(result.ConfusionMatrix[0][0] > 90, "class a mostly predicted as a");
    }

    [Fact]
    public void Should_split_on_groups_of_categories_natively_when_asked()
    {
        // Whether a shop is risky depends on which of 60 shops it is: one native categorical split separates them,
        // one-hot columns need a split per shop.
        var random = new Random(11);
        var risky = Enumerable.Range(0, 60).Where(_ => random.NextDouble() < 0.5).ToHashSet();
        var csv = new StringBuilder("shop,amount,fraud\n");
        for (var i = 0; i < 1500; i++)
        {
            var shop = random.Next(60);
            var fraud = risky.Contains(shop) ? random.NextDouble() < 0.8 : random.NextDouble() < 0.1;
            csv.Append(CultureInfo.InvariantCulture, $"s{shop},{random.NextDouble() * 100:F2},{(fraud ? 1 : 0)}\n");
        }
        var (parquet, profile) = Dataset(csv.ToString());
        var options = new TrainOptions { Target = "fraud", Iterations = 10, Leaves = 4, MinDataInLeaf = 5, Folds = 3 };

        var oneHot = ModelTrainer.Train(parquet, profile, options, _dir);
        var native = ModelTrainer.Train(parquet, profile, options with { NativeCategories = true }, _dir);

        Assert.Contains("cat_threshold=", native.Model.Booster!.Save(), StringComparison.Ordinal);
        Assert.DoesNotContain("cat_threshold=", oneHot.Model.Booster!.Save(), StringComparison.Ordinal);
        Assert.True(native.Metrics["auc"] > oneHot.Metrics["auc"] + 0.02, $"native auc {native.Metrics["auc"]:F4}, one-hot {oneHot.Metrics["auc"]:F4}");
    }
}
