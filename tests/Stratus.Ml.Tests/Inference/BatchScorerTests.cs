using System.Globalization;
using System.Text;
using Stratus.Ml.Data;
using Stratus.Ml.Inference;
using Stratus.Ml.Training;
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
    public void Should_type_a_csv_by_the_model_signature_not_by_what_the_file_alone_looks_like()
    {
        // Trained on a plan written yes/no and an area code that is text ("415" beside "area_51"); scored on a file in
        // which DuckDB alone would read the plan as booleans and the codes as numbers (UCI churn scored 0.71 accurate, the
        // majority class 0.86, until the scorer typed the file as the model's signature does).
        var random = new Random(3);
        var train = new StringBuilder("plan,area,minutes,churn\n");
        for (var i = 0; i < 600; i++)
        {
            var plan = random.Next(3) == 0 ? "yes" : "no";
            var area = i % 50 == 0 ? "area_51" : new[] { "415", "408", "510" }[random.Next(3)];
            var minutes = random.NextDouble() * 300;
            train.Append(CultureInfo.InvariantCulture, $"{plan},{area},{minutes:F1},{(plan == "yes" && (area == "415" || minutes > 200) ? "c_yes" : "c_no")}\n");
        }
        var (parquet, profile) = StoredCsv.Ingest(_dir, train.ToString());
        var result = ModelTrainer.Train(parquet, profile, new TrainOptions { Target = "churn", Iterations = 40, Folds = 2 }, _dir);
        using var stream = new MemoryStream();
        ModelPackage.Save(result, profile, "churn", stream, new Dictionary<string, string>());
        stream.Position = 0;
        var model = ModelPackage.Load(stream);

        var test = new StringBuilder("plan,area,minutes\n");
        var requests = new List<IReadOnlyDictionary<string, System.Text.Json.JsonElement>>();
        for (var i = 0; i < 40; i++)
        {
            var (plan, area, minutes) = (i % 2 == 0 ? "yes" : "no", new[] { "415", "408", "510" }[i % 3], i % 5 == 0 ? "" : (i * 7.5).ToString("F1", CultureInfo.InvariantCulture));
            test.Append(CultureInfo.InvariantCulture, $"{plan},{area},{minutes}\n");
            requests.Add(System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, System.Text.Json.JsonElement>>(
                $"{{\"plan\": \"{plan}\", \"area\": \"{area}\", \"minutes\": {(minutes.Length == 0 ? "null" : minutes)}}}")!);
        }
        var csv = Path.Combine(_dir, "test.csv");
        File.WriteAllText(csv, test.ToString());
        var output = Path.Combine(_dir, "scored.csv");

        Assert.Equal(40, BatchScorer.Score(model, csv, output));

        // Every row as an endpoint scores the same values sent as a request would send them.
        var scored = File.ReadAllLines(output).Skip(1).Select(l => l.Split(',')).ToList();
        var expected = model.Predict(requests);
        Assert.Equal(expected.Select(p => p.Label), scored.Select(r => r[2]));
        Assert.Equal(expected.Select(p => p.Probabilities!["c_yes"]), scored.Select(r => double.Parse(r[1], CultureInfo.InvariantCulture)));
        Assert.Contains("c_yes", scored.Select(r => r[2])); // the plan counts: "yes" is the category the model learned
        Assert.All(scored.Where((_, i) => i % 2 == 1), r => Assert.Equal("c_no", r[2]));

        // A cell that is not of its input's type is refused by row and column; nothing is left behind.
        File.WriteAllText(csv, "plan,area,minutes\nyes,415,12.5\nno,408,about ten\n");
        File.Delete(output);
        var error = Assert.Throws<PredictionInputException>(() => BatchScorer.Score(model, csv, output));
        Assert.Equal("instances[1].minutes: expected a number, got 'about ten'", error.Message);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir, "scored.csv*"));
        // So is a file that is not CSV further down (a row of more fields than the header), by what is wrong.
        File.WriteAllText(csv, "plan,area,minutes\n" + string.Concat(Enumerable.Repeat("yes,415,12.5\n", 3000)) + "no,408,2,3,4\n");
        Assert.Contains("column", Assert.Throws<DataFormatException>(() => BatchScorer.Score(model, csv, output)).Message, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(Directory.GetFiles(_dir, "scored.csv*"));
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
