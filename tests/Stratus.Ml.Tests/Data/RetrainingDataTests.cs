using System.Globalization;
using System.Text;
using Stratus.Ml.Data;

namespace Stratus.Ml.Tests.Data;

public sealed class RetrainingDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-retraining-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private long Count(string parquet, string where = "true")
    {
        using var connection = DuckDb.Open(_dir);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM read_parquet({DuckDb.Literal(parquet)}) WHERE {where}";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Should_hold_out_a_fifth_by_content_whatever_the_order_and_add_feedback_with_the_datasets_types()
    {
        var csv = new StringBuilder("amount,kind,label\n");
        for (var i = 0; i < 1000; i++) csv.Append(CultureInfo.InvariantCulture, $"{i * 1.5},{(i % 3 == 0 ? "a" : "b")},{i % 2}\n");
        var (parquet, _) = StoredCsv.Ingest(_dir, csv.ToString());
        var feedback = Path.Combine(_dir, "feedback.jsonl");
        File.WriteAllText(feedback, """
            {"amount": 5000.5, "kind": "c", "label": 1}
            {"amount": 6000, "label": 0}

            """);

        var (train, holdout) = (Path.Combine(_dir, "train.parquet"), Path.Combine(_dir, "holdout.parquet"));
        var split = RetrainingData.Prepare(parquet, feedback, train, holdout, 20, seed: 42, _dir);
        Assert.Equal((1002L, 2L), (split.TrainRows + split.HoldoutRows, split.FeedbackRows));
        Assert.InRange(split.HoldoutRows, 150, 250);
        Assert.Equal((split.TrainRows, split.HoldoutRows), (Count(train), Count(holdout)));
        Assert.Equal(0, Count(train, $"amount IN (SELECT amount FROM read_parquet({DuckDb.Literal(holdout)}))"));
        Assert.Equal(2, Count(train, "amount >= 5000") + Count(holdout, "amount >= 5000"));
        Assert.Equal(1, Count(train, "kind IS NULL") + Count(holdout, "kind IS NULL"));

        // The same rows in another order split the same way.
        var reversed = new StringBuilder("amount,kind,label\n");
        foreach (var line in csv.ToString().Split('\n').Skip(1).Where(l => l.Length > 0).Reverse()) reversed.Append(line).Append('\n');
        var (other, _) = StoredCsv.Ingest(Directory.CreateDirectory(Path.Combine(_dir, "r")).FullName, reversed.ToString());
        var again = RetrainingData.Prepare(other, null, Path.Combine(_dir, "t2.parquet"), Path.Combine(_dir, "h2.parquet"), 20, seed: 42, _dir);
        Assert.Equal(split.HoldoutRows - Count(holdout, "amount >= 5000"), again.HoldoutRows);
        Assert.Equal(again.HoldoutRows, Count(holdout, $"amount IN (SELECT amount FROM read_parquet({DuckDb.Literal(Path.Combine(_dir, "h2.parquet"))}))"));
    }
}
