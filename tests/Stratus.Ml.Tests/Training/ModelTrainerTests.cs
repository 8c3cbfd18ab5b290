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
}
