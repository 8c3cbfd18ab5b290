using System.Globalization;
using System.Text;
using System.Text.Json;
using Stratus.Ml.Inference;
using Stratus.Ml.Training;

namespace Stratus.Ml.Tests.Inference;

public sealed class ModelPackageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-package-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ModelPackage TrainAndReload(string csv, string target, out TrainResult result)
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv);
        result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = target, Iterations = 30, Folds = 2 }, _dir);
        using var package = new MemoryStream();
        ModelPackage.Save(result, profile, target, package, new Dictionary<string, string> { ["seed"] = "42" }, "data:1", new string('a', 64));
        package.Position = 0;
        return ModelPackage.Load(package);
    }

    private static IReadOnlyDictionary<string, JsonElement> Row(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;

    private static string Binary()
    {
        var random = new Random(9);
        var csv = new StringBuilder("amount,category,day,fraud\n");
        for (var i = 0; i < 600; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append(CultureInfo.InvariantCulture, $"{(fraud ? 500 : 20) + random.NextDouble() * 50:F2},{(fraud ? "online" : "grocery")},2024-05-{10 + random.Next(9)},{(fraud ? "fraud" : "legit")}\n");
        }
        return csv.ToString();
    }

    [Fact]
    public void Should_round_trip_a_binary_model_with_its_manifest_and_predict_class_probabilities()
    {
        var package = TrainAndReload(Binary(), "fraud", out _);

        var manifest = package.Manifest;
        Assert.Equal(("binary", "fraud", "lightgbm"), (manifest.Task, manifest.Target, manifest.Trainer));
        Assert.Equal(["amount:DOUBLE", "category:VARCHAR", "day:DATE"], manifest.Inputs.Select(i => $"{i.Name}:{i.Type}"));
        Assert.Equal(["grocery", "online"], manifest.Inputs[1].Categories);
        Assert.Equal(["legit", "fraud"], manifest.Classes); // negative, then the rarer class as positive
        Assert.Equal("data:1", manifest.Dataset);
        Assert.True(manifest.Metrics["auc"] > 0.95);

        var predictions = package.Predict([
            Row("""{"amount": 530.5, "category": "online", "day": "2024-05-12"}"""),
            Row("""{"amount": 25, "category": "grocery", "day": "2024-05-13", "extra": 1}"""),
            Row("""{"amount": null, "category": null, "day": null}"""),
        ]);
        Assert.Equal("fraud", predictions[0].Label);
        Assert.Equal("legit", predictions[1].Label);
        Assert.True(predictions[0].Probabilities!["fraud"] > 0.9);
        Assert.Equal(1.0, predictions[1].Probabilities!.Values.Sum(), 6);
        Assert.NotNull(predictions[2].Label); // missing values are imputed, as in training
    }

    [Theory]
    [InlineData("""{"category": "online", "day": "2024-05-12"}""", "instances[0].amount", "missing")]
    [InlineData("""{"amount": "high", "category": "online", "day": "2024-05-12"}""", "instances[0].amount", "expected a number, got a string")]
    [InlineData("""{"amount": 3, "category": "online", "day": "someday"}""", "instances[0].day", "date")]
    public void Should_name_the_field_of_a_request_that_does_not_fit_the_signature(string json, string field, string expected)
    {
        var package = TrainAndReload(Binary(), "fraud", out _);
        var ex = Assert.Throws<PredictionInputException>(() => package.Predict([Row(json)]));
        Assert.Equal(field, ex.Field);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Should_score_a_category_the_model_never_saw_as_unseen_and_refuse_it_only_when_strict()
    {
        var package = TrainAndReload(Binary(), "fraud", out _);
        var unseen = package.Predict([Row("""{"amount": 900, "category": "casino", "day": "2024-05-12"}"""), Row("""{"amount": 3, "category": "casino", "day": "2024-05-12"}""")]);
        var missing = package.Predict([Row("""{"amount": 900, "category": null, "day": "2024-05-12"}"""), Row("""{"amount": 3, "category": null, "day": "2024-05-12"}""")]);

        // Scored, with every indicator of the category off: exactly as a row whose category is missing.
        Assert.Equal(missing.Select(p => p.Probabilities!["fraud"]), unseen.Select(p => p.Probabilities!["fraud"]));
        Assert.All(unseen, p => Assert.Equal(1.0, p.Probabilities!.Values.Sum(), 6));
        var strict = Assert.Throws<PredictionInputException>(() => package.Predict([Row("""{"amount": 3, "category": "casino", "day": "2024-05-12"}""")], strict: true));
        Assert.Equal("instances[0].category", strict.Field);
        Assert.Contains("unknown category 'casino'; the model knows grocery, online", strict.Message);
    }

    [Fact]
    public void Should_predict_multiclass_labels_and_regression_values_after_a_round_trip()
    {
        var random = new Random(4);
        var csv = new StringBuilder("x,kind,y\n");
        for (var i = 0; i < 600; i++)
        {
            var k = random.Next(3);
            csv.Append(CultureInfo.InvariantCulture, $"{k * 10 + random.NextDouble():F3},{new[] { "a", "b", "c" }[k]},{k * 100 + random.NextDouble():F3}\n");
        }
        var multiclass = TrainAndReload(csv.ToString(), "kind", out _);
        var labels = multiclass.Predict([Row("""{"x": 0.5, "y": 0}"""), Row("""{"x": 20.5, "y": 200}""")]);
        Assert.Equal(["a", "c"], labels.Select(p => p.Label));
        Assert.Equal(["a", "b", "c"], labels[0].Probabilities!.Keys.Order());

        var regression = TrainAndReload(csv.ToString(), "y", out _);
        var values = regression.Predict([Row("""{"x": 10.5, "kind": "b"}""")]);
        Assert.InRange(values[0].Value!.Value, 90, 110);
    }

    [Theory]
    [InlineData("kind", "lightgbm")]
    [InlineData("kind", "fasttree")]
    [InlineData("kind", "sdca")]
    [InlineData("flag", "lightgbm")]
    [InlineData("flag", "lbfgs")]
    [InlineData("y", "fastforest")]
    [InlineData("y", "lightgbm-native")]
    [InlineData("flag", "lightgbm-rf")]
    [InlineData("kind", "lightgbm-extra")]
    public void Should_score_requests_row_by_row_exactly_as_the_batch_path_does(string target, string trainer)
    {
        var random = new Random(8);
        var csv = new StringBuilder("x,kind,flag,y,note\n");
        for (var i = 0; i < 400; i++)
        {
            var k = random.Next(3);
            csv.Append(CultureInfo.InvariantCulture, $"{k * 10 + random.NextDouble() * 8:F3},{new[] { "a", "b", "c" }[k]},{(random.NextDouble() < 0.3 + k * 0.2 ? 1 : 0)},{k * 100 + random.NextDouble() * 30:F3},{(random.NextDouble() < 0.1 ? "" : new[] { "red", "green" }[random.Next(2)])}\n");
        }
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv.ToString());
        var options = new TrainOptions
        {
            Target = target, Trainer = trainer.Split('-')[0], NativeCategories = trainer.EndsWith("-native", StringComparison.Ordinal),
            RandomForest = trainer.EndsWith("-rf", StringComparison.Ordinal), ExtraTrees = trainer.EndsWith("-extra", StringComparison.Ordinal), Iterations = 20, Folds = 2,
        };
        var result = ModelTrainer.Train(parquet, profile, options, _dir);
        using var stream = new MemoryStream();
        ModelPackage.Save(result, profile, target, stream, new Dictionary<string, string>());
        stream.Position = 0;
        var package = ModelPackage.Load(stream);

        // 30 requests: through the package's reusable row mapper, and through an ML.NET transform over all of them.
        var inputs = result.Features.Select(f => f.SourceColumn).Distinct().ToList();
        var rows = Enumerable.Range(0, 30).Select(i => Row(JsonSerializer.Serialize(inputs.ToDictionary(c => c, c => c switch
        {
            "x" => (object)(i * 1.1),
            "kind" => new[] { "a", "b", "c" }[i % 3],
            "flag" => i % 2,
            "y" => i * 10.0,
            _ => i % 5 == 0 ? null! : "red",
        })))).ToList();
        var online = package.Predict(rows);
        var batch = package.PredictBatch(rows);

        Assert.Equal(batch.Count, online.Count);
        for (var i = 0; i < online.Count; i++)
        {
            Assert.Equal(batch[i].Label, online[i].Label);
            Assert.Equal(batch[i].Value, online[i].Value);
            Assert.Equal(batch[i].Probabilities?.OrderBy(p => p.Key), online[i].Probabilities?.OrderBy(p => p.Key));
        }
    }

    [Theory]
    [InlineData("forest")]
    [InlineData("extra-trees")]
    public void Should_serve_a_randomized_tree_model_with_exactly_the_scores_it_was_validated_with(string learner)
    {
        var random = new Random(12);
        var csv = new StringBuilder("x,z,kind,flag\n");
        var rows = new List<IReadOnlyDictionary<string, JsonElement>>();
        for (var i = 0; i < 500; i++)
        {
            var (x, z, kind) = (random.NextDouble() * 10, random.NextDouble(), new[] { "a", "b", "c" }[random.Next(3)]);
            var flag = x * z + (kind == "b" ? 2 : 0) + random.NextDouble() > 4 ? 1 : 0;
            csv.Append(CultureInfo.InvariantCulture, $"{x:F3},{z:F3},{kind},{flag}\n");
            rows.Add(Row(string.Create(CultureInfo.InvariantCulture, $$"""{"x": {{x:F3}}, "z": {{z:F3}}, "kind": "{{kind}}"}""")));
        }
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv.ToString());
        var options = new TrainOptions
        {
            Target = "flag", Iterations = 60, Leaves = 15, Folds = 3, EarlyStoppingRounds = 10,
            RandomForest = learner == "forest", ExtraTrees = learner == "extra-trees", FeatureFraction = 0.8,
        };
        var result = ModelTrainer.Train(parquet, profile, options, _dir);
        Assert.True(result.Metrics["auc"] > 0.85, $"auc {result.Metrics["auc"]}");
        using var stream = new MemoryStream();
        ModelPackage.Save(result, profile, "flag", stream, new Dictionary<string, string>());
        stream.Position = 0;
        var package = ModelPackage.Load(stream);

        // The scores the model was kept with (the refitted model's, of every row, for drift and for its metrics) are
        // the scores it serves, row for row.
        var served = package.Predict(rows);
        var positive = result.Classes[1];
        Assert.Equal(rows.Count, result.ValidationScores!.Length);
        for (var i = 0; i < rows.Count; i++) Assert.Equal(result.ValidationScores[i], served[i].Probabilities![positive], 6);
    }

    [Fact]
    public void Should_package_an_ensemble_and_serve_the_weighted_average_of_its_members()
    {
        var (parquet, profile) = StoredCsv.Ingest(_dir, Binary());
        var options = new TrainOptions { Target = "fraud", Folds = 2, Iterations = 20 };
        using var session = TrainingSession.Open(parquet, profile, options, _dir);
        var gbm = session.FitFinal(options, null, default);
        var linear = session.FitFinal(options with { Trainer = "sdca" }, null, default);
        var ensemble = TrainedModel.Ensemble([(gbm, new EnsembleMember("lightgbm", 0.75, new Dictionary<string, string>())), (linear, new EnsembleMember("sdca", 0.25, new Dictionary<string, string>()))]);
        var result = new TrainResult(ensemble, session.Task, "ensemble", session.Features, session.Classes, new Dictionary<string, double> { ["auc"] = 1 }, null,
            session.Validation, TimeSpan.Zero, session.Categories(), new Dictionary<string, double>(), null);
        using var stream = new MemoryStream();
        ModelPackage.Save(result, profile, "fraud", stream, new Dictionary<string, string>());
        stream.Position = 0;
        var package = ModelPackage.Load(stream);

        Assert.Equal("ensemble", package.Manifest.Trainer);
        Assert.Equal([0.75, 0.25], package.Manifest.Members!.Select(m => m.Weight));
        var rows = new[] { Row("""{"amount": 530.5, "category": "online", "day": "2024-05-12"}"""), Row("""{"amount": 41, "category": "grocery", "day": "2024-05-13"}""") };
        var predictions = package.Predict(rows);
        Assert.Equal(["fraud", "legit"], predictions.Select(p => p.Label));
        Assert.Equal(package.PredictBatch(rows).Select(p => p.Probabilities!["fraud"]), predictions.Select(p => p.Probabilities!["fraud"]));
        // The average of what each member alone says, weighted.
        var (memberA, memberB) = (Single(gbm, profile, session), Single(linear, profile, session));
        for (var i = 0; i < rows.Length; i++)
        {
            var expected = 0.75 * memberA.Predict(rows)[i].Probabilities!["fraud"] + 0.25 * memberB.Predict(rows)[i].Probabilities!["fraud"];
            Assert.Equal(expected, predictions[i].Probabilities!["fraud"], 6);
        }
    }

    private static ModelPackage Single(TrainedModel model, IReadOnlyList<ColumnProfile> profile, TrainingSession session)
    {
        var result = new TrainResult(model, session.Task, "single", session.Features, session.Classes, new Dictionary<string, double>(), null,
            session.Validation, TimeSpan.Zero, session.Categories(), new Dictionary<string, double>(), null);
        using var stream = new MemoryStream();
        ModelPackage.Save(result, profile, "fraud", stream, new Dictionary<string, string>());
        stream.Position = 0;
        return ModelPackage.Load(stream);
    }

    [Fact]
    public void Should_refuse_a_stream_that_is_not_a_package()
    {
        using var junk = new MemoryStream(Encoding.UTF8.GetBytes("not a zip"));
        Assert.ThrowsAny<InvalidDataException>(() => ModelPackage.Load(junk));
    }
}
