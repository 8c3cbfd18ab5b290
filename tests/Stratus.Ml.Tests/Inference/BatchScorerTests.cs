using System.Globalization;
using System.Text;
using Stratus.Ml.Data;
using Stratus.Ml.Inference;
using Stratus.Testing;

namespace Stratus.Ml.Tests.Inference;

public sealed class BatchScorerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-batch-scorer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_resume_from_the_chunks_already_scored_and_keep_the_input_order()
    {
        var (onnx, _) = OnnxGraph.Mlp(2, 2, 4, 2);
        using var packageBytes = new MemoryStream();
        ModelPackage.ImportOnnx(onnx, new OnnxSignature(Target: "churn"), packageBytes);
        packageBytes.Position = 0;
        var model = ModelPackage.Load(packageBytes);
        var csv = new StringBuilder("x_0,x_1\n");
        for (var i = 0; i < 250; i++) csv.Append(CultureInfo.InvariantCulture, $"{i},{i % 7}\n");
        var (parquet, _) = StoredCsv.Ingest(_dir, csv.ToString());

        // An earlier attempt scored the first chunk before it stopped: that chunk is kept, not scored again.
        var work = Path.Combine(_dir, "work");
        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(work, "part-000000.csv"),
            "file_row_number,predicted,p0,p1\n" + string.Concat(Enumerable.Range(0, 100).Select(i => $"{i},resumed,0.5,0.5\n")));
        var reports = new List<(long Done, long Total)>();
        var output = Path.Combine(work, "out.parquet");
        var result = BatchScorer.ScoreParquet(model, parquet, work, output, (d, t) => { lock (reports) reports.Add((d, t)); }, chunkRows: 100);

        Assert.Equal(250, result.Rows);
        Assert.Equal(["churn_predicted", "churn_probability_0", "churn_probability_1"], result.Columns);
        Assert.Contains((250L, 250L), reports);
        using var duck = DuckDb.Open(_dir);
        using var query = duck.CreateCommand();
        query.CommandText = $"SELECT x_0, churn_predicted FROM read_parquet({DuckDb.Literal(output)})";
        using var reader = query.ExecuteReader();
        var rows = new List<(long X, string Label)>();
        while (reader.Read()) rows.Add((Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetString(1)));
        Assert.Equal(Enumerable.Range(0, 250).Select(i => (long)i), rows.Select(r => r.X));
        Assert.All(rows.Take(100), r => Assert.Equal("resumed", r.Label));
        var fresh = model.Predict([.. Enumerable.Range(100, 150).Select(i => (IReadOnlyDictionary<string, System.Text.Json.JsonElement>)System.Text.Json.JsonSerializer
            .Deserialize<Dictionary<string, System.Text.Json.JsonElement>>($"{{\"x_0\": {i}, \"x_1\": {i % 7}}}")!)]);
        Assert.Equal(fresh.Select(p => p.Label), rows.Skip(100).Select(r => r.Label));
    }

    [Fact]
    public void Should_score_a_csv_whose_columns_differ_only_in_case_by_their_own_names()
    {
        // The model reads "Reading" then "reading": a scorer that folded the header's case would fill one from the other, or neither.
        var (onnx, source) = OnnxGraph.Mlp(4, 2, 4, 2);
        using var packageBytes = new MemoryStream();
        ModelPackage.ImportOnnx(onnx, new OnnxSignature(Inputs: [new OnnxInput("x", ["Reading", "reading"])]), packageBytes);
        packageBytes.Position = 0;
        var model = ModelPackage.Load(packageBytes);
        var csv = Path.Combine(_dir, "in.csv");
        File.WriteAllText(csv, "reading,Reading\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"{i % 3},{i}\n")));
        var output = Path.Combine(_dir, "out.csv");

        Assert.Equal(20, BatchScorer.Score(model, csv, output));

        var probabilities = File.ReadAllLines(output).Skip(1).Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(20, probabilities.Count);
        for (var i = 0; i < 20; i++) Assert.Equal(source([i, i % 3])[1], probabilities[i], 5);
    }

    [Fact]
    public void Should_score_columns_named_as_the_scorers_own_helper_columns()
    {
        // file_row_number and stratus_truth are columns the scorer's queries add; a dataset exported by DuckDB may have the first.
        var (onnx, source) = OnnxGraph.Mlp(5, 2, 4, 2);
        using var packageBytes = new MemoryStream();
        ModelPackage.ImportOnnx(onnx, new OnnxSignature(Inputs: [new OnnxInput("x", ["stratus_truth", "file_row_number"])], Target: "churn"), packageBytes);
        packageBytes.Position = 0;
        var model = ModelPackage.Load(packageBytes);
        var csv = new StringBuilder("file_row_number,stratus_truth,churn\n");
        for (var r = 0; r < 30; r++) csv.Append(CultureInfo.InvariantCulture, $"{100 + r},{r % 4},{(source([r % 4, 100 + r])[1] > 0.5 ? 1 : 0)}\n");
        var (parquet, _) = StoredCsv.Ingest(_dir, csv.ToString());
        var output = Path.Combine(_dir, "scored.parquet");

        var result = BatchScorer.ScoreParquet(model, parquet, Path.Combine(_dir, "work"), output);

        Assert.Equal(30, result.Rows);
        Assert.Equal(["file_row_number", "stratus_truth", "churn", "churn_predicted", "churn_probability_0", "churn_probability_1"], ParquetFooter.ColumnNames(output));
        using var duck = DuckDb.Open(_dir);
        using var query = duck.CreateCommand();
        query.CommandText = $"SELECT * FROM read_parquet({DuckDb.Literal(output)})";
        using var reader = query.ExecuteReader();
        var i = 0;
        for (; reader.Read(); i++)
        {
            Assert.Equal(100 + i, Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture));
            Assert.Equal(source([i % 4, 100 + i])[1], reader.GetDouble(5), 1e-3); // single-precision network, outputs near 100
        }
        Assert.Equal(30, i);
        Assert.Equal(1.0, BatchScorer.Evaluate(model, parquet, _dir).Metrics["accuracy"]);
    }
}
