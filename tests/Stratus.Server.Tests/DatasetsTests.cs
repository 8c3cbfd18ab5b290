using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class DatasetsTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private StratusClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.Client();
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static MemoryStream Csv(string text) => new(Encoding.UTF8.GetBytes(text));

    private const string Transactions = "amount,merchant,fraud\n12.5,grocery,0\n830,electronics,1\n7.25,grocery,0\n45,fuel,0\n";

    [Fact]
    public async Task Should_version_profile_list_download_and_soft_delete_a_dataset()
    {
        var v1 = await _client.Datasets.UploadAsync("tx", Csv(Transactions));
        Assert.True(v1.Created);
        Assert.Equal(1, v1.Version);
        Assert.Equal(4, v1.Rows);
        Assert.Equal(["DOUBLE", "VARCHAR", "BIGINT"], v1.Columns.Select(c => c.Type));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Transactions))), v1.Sha256);

        var v2 = await _client.Datasets.UploadAsync("tx", Csv(Transactions + "3,grocery,0\n"));
        Assert.Equal(2, v2.Version);

        var latest = await _client.Datasets.GetAsync("tx");
        Assert.Equal(2, latest.Version);
        Assert.Equal(1, (await _client.Datasets.GetAsync("tx:1")).Version);
        var listed = await _client.Datasets.ListAsync();
        Assert.Equal(2, Assert.Single(listed.Items, d => d.Name == "tx").VersionCount);

        var profile = await _client.Datasets.GetProfileAsync("tx:1");
        Assert.Equal(830, profile[0].Max);
        Assert.Equal("grocery", profile[1].TopValues![0].Value);
        Assert.Equal(2, profile[1].TopValues![0].Count);

        // The first rows, as text, in file order.
        var preview = await _client.Datasets.PreviewAsync("tx:1", 2);
        Assert.Equal(["amount", "merchant", "fraud"], preview.Columns);
        Assert.Equal([["12.5", "grocery", "0"], ["830", "electronics", "1"]], preview.Rows.Select(r => r.ToArray()));
        Assert.Equal("limit", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Datasets.PreviewAsync("tx:1", 0))).Field);

        var parquet = Path.Combine(_server.DataDir, "..", $"{Guid.NewGuid():N}.parquet");
        var csv = Path.ChangeExtension(parquet, ".csv");
        try
        {
            Assert.Equal(v1.ParquetSha256, await _client.Datasets.DownloadAsync("tx:1", parquet));
            await _client.Datasets.DownloadAsync("tx:1", csv, "csv");
            var lines = await File.ReadAllLinesAsync(csv);
            Assert.Equal(["amount,merchant,fraud", "12.5,grocery,0", "830.0,electronics,1", "7.25,grocery,0", "45.0,fuel,0"], lines);
        }
        finally
        {
            File.Delete(parquet);
            File.Delete(csv);
        }

        await _client.Datasets.DeleteAsync("tx:2");
        Assert.Equal(1, (await _client.Datasets.GetAsync("tx")).Version);
        var gone = await Assert.ThrowsAsync<StratusApiException>(() => _client.Datasets.GetAsync("tx:2"));
        Assert.Equal(HttpStatusCode.NotFound, gone.Status);

        await _client.Datasets.DeleteAsync("tx");
        Assert.DoesNotContain(await _client.Datasets.ListAsync() is { } p ? p.Items : [], d => d.Name == "tx");
    }

    [Fact]
    public async Task Should_return_the_existing_version_when_the_same_bytes_are_uploaded_again()
    {
        var first = await _client.Datasets.UploadAsync("same", Csv(Transactions));
        var again = await _client.Datasets.UploadAsync("same", Csv(Transactions));
        Assert.False(again.Created);
        Assert.Equal(first.Version, again.Version);
        Assert.Equal(first.Sha256, again.Sha256);
        Assert.Single((await _client.Datasets.ListVersionsAsync("same")).Items);
    }

    [Fact]
    public async Task Should_store_a_parquet_upload_with_its_schema()
    {
        var v = await _client.Datasets.UploadAsync("pq-src", Csv(Transactions));
        var file = Path.Combine(_server.DataDir, "..", $"{Guid.NewGuid():N}.parquet");
        try
        {
            await _client.Datasets.DownloadAsync("pq-src", file);
            await using var stream = File.OpenRead(file);
            var copy = await _client.Datasets.UploadAsync("pq", stream, "parquet");
            Assert.Equal(v.Rows, copy.Rows);
            Assert.Equal("parquet", copy.SourceFormat);
            Assert.Equal(v.Columns, copy.Columns);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("a,b,c\n1,2,3\n4,5\n", "line 3")]
    [InlineData("a,b\n1,\"open\n2,3\n", "never closed")]
    [InlineData("", "empty")]
    [InlineData("a,b,c\n", "no data rows")]
    [InlineData("a,b\n\"x\"y,2\n", "line 2")]
    public async Task Should_refuse_malformed_csv_with_where_and_store_nothing(string csv, string expected)
    {
        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Datasets.UploadAsync("bad", Csv(csv)));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Contains(expected, ex.Detail);
        Assert.DoesNotContain("   at ", ex.Detail); // no stack trace
        await AssertNothingStored("bad");
    }

    [Fact]
    public async Task Should_refuse_a_file_wider_than_the_column_limit_from_its_header_and_stay_small()
    {
        // 5,000 columns in about 300 KB once grew the server to 24 GB (the kernel killed it).
        var csv = new StringBuilder(string.Join(',', Enumerable.Range(0, 5000).Select(c => $"c{c}"))).Append('\n');
        for (var r = 0; r < 30; r++) csv.Append(string.Join(',', Enumerable.Range(0, 5000).Select(c => (r * c % 97).ToString(System.Globalization.CultureInfo.InvariantCulture)))).Append('\n');
        var before = System.Diagnostics.Process.GetCurrentProcess().WorkingSet64;

        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Datasets.UploadAsync("wide", Csv(csv.ToString())));

        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Contains("more than 2,000 columns, the most a dataset may have (limit MaxColumns)", ex.Detail);
        Assert.Contains("line 1", ex.Detail);
        await AssertNothingStored("wide");
        var grown = System.Diagnostics.Process.GetCurrentProcess().WorkingSet64 - before;
        Assert.True(grown < 1L << 30, $"the refusal grew the process by {grown:N0} bytes");
    }

    [Fact]
    public async Task Should_give_back_labels_and_categories_exactly_as_written()
    {
        // IBM's attrition data: a Yes/No target that DuckDB's sniffer read as BOOLEAN, trained as false/true.
        var random = new Random(2);
        var csv = new StringBuilder("Zip,Code,Income,OverTime\n");
        for (var i = 0; i < 300; i++)
        {
            var yes = i % 3 == 0;
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{(yes ? "0001" : "0420")},{(i % 2 == 0 ? "1e5" : "abc")},{(yes ? 20 : 80) + random.Next(30)},{(yes ? "Yes" : "No")}\n");
        }
        var version = await _client.Datasets.UploadAsync("attrition", Csv(csv.ToString()));
        Assert.Equal(["VARCHAR", "VARCHAR", "BIGINT", "VARCHAR"], version.Columns.Select(c => c.Type));

        var preview = await _client.Datasets.PreviewAsync("attrition", 3);
        Assert.Equal(["0001", "1e5", "Yes"], new[] { preview.Rows[0][0], preview.Rows[0][1], preview.Rows[0][3] });
        var download = Path.Combine(_server.DataDir, "attrition.csv");
        await _client.Datasets.DownloadAsync("attrition", download, "csv");
        Assert.Equal("0001,1e5,", (await File.ReadAllLinesAsync(download))[1][..9]);
        Assert.EndsWith(",Yes", (await File.ReadAllLinesAsync(download))[1], StringComparison.Ordinal);

        var job = await _client.Jobs.WaitAsync((await _client.Jobs.TrainAsync(new TrainRequest("attrition", "OverTime", Register: "attrition", Iterations: 20))).Id, ct: TestContext.Current.CancellationToken);
        Assert.True(job.Status == JobStatus.Succeeded, job.Error);
        var package = Path.Combine(_server.DataDir, "attrition.zip");
        await _client.Models.DownloadAsync("attrition:1", package);
        await using (var stream = File.OpenRead(package))
            Assert.Equal(["No", "Yes"], Stratus.Ml.Inference.ModelPackage.ReadManifest(stream).Classes); // the classes as written, not false/true
        await _client.Endpoints.DeployAsync("attrition", "attrition:1");
        var answer = await _client.Endpoints.PredictAsync("attrition", new PredictRequest([
            new Dictionary<string, System.Text.Json.JsonElement> { ["Zip"] = Json("\"0001\""), ["Code"] = Json("\"1e5\""), ["Income"] = Json("25") },
            new Dictionary<string, System.Text.Json.JsonElement> { ["Zip"] = Json("\"0420\""), ["Code"] = Json("\"abc\""), ["Income"] = Json("95") },
        ]));
        Assert.Equal(["Yes", "No"], answer.Predictions.Select(p => p.Label));
        Assert.Equal(["No", "Yes"], answer.Predictions[0].Probabilities!.Keys.Order());
    }

    [Fact]
    public async Task Should_keep_columns_whose_names_differ_only_in_case_apart_everywhere()
    {
        // mlbench's Vehicle data has Sc.Var.Maxis and Sc.Var.maxis; pandas, R and Spark read both. Here one pair
        // carries the signal and the other noise, and the categories of Shape and shape differ: any place that took
        // one for the other would train, score or sketch the wrong column.
        var random = new Random(5);
        var csv = new StringBuilder("Sc.Var.Maxis,Sc.Var.maxis,Shape,shape,class,Class\n");
        for (var i = 0; i < 400; i++)
        {
            var signal = random.Next(100);
            csv.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{signal},{random.Next(10)},{(random.Next(2) == 0 ? "round" : "square")},{new[] { "1st", "2nd", "3rd" }[random.Next(3)]},{random.Next(1000)},{(signal >= 50 ? "bus" : "van")}\n");
        }
        var names = new[] { "Sc.Var.Maxis", "Sc.Var.maxis", "Shape", "shape", "class", "Class" };
        var version = await _client.Datasets.UploadAsync("vehicle", Csv(csv.ToString()));
        Assert.Equal(names, version.Columns.Select(c => c.Name));
        Assert.Equal(["BIGINT", "BIGINT", "VARCHAR", "VARCHAR", "BIGINT", "VARCHAR"], version.Columns.Select(c => c.Type));

        var profile = await _client.Datasets.GetProfileAsync("vehicle");
        Assert.Equal(names, profile.Select(c => c.Name));
        Assert.Equal((true, 10L), (profile[0].Distinct > 90, profile[1].Distinct));
        Assert.Equal(["round", "square"], profile[2].TopValues!.Select(v => v.Value).Order());
        Assert.Equal(["1st", "2nd", "3rd"], profile[3].TopValues!.Select(v => v.Value).Order());
        Assert.Equal(names, (await _client.Datasets.PreviewAsync("vehicle", 1)).Columns);

        // Downloads hold the names as written: the CSV is the upload, the Parquet file's own schema names them.
        var download = Path.Combine(_server.DataDir, "vehicle.csv");
        await _client.Datasets.DownloadAsync("vehicle", download, "csv");
        Assert.Equal(csv.ToString(), await File.ReadAllTextAsync(download, TestContext.Current.CancellationToken));
        var parquet = Path.Combine(_server.DataDir, "vehicle.parquet");
        await _client.Datasets.DownloadAsync("vehicle", parquet, "parquet");
        Assert.Equal(names, ParquetNames(parquet));

        // Trained on Class (not class): the model reads all five others, each with its own categories, and scores by the signal's column.
        var job = await _client.Jobs.WaitAsync((await _client.Jobs.TrainAsync(new TrainRequest("vehicle", "Class", Register: "vehicle", Iterations: 30))).Id, ct: TestContext.Current.CancellationToken);
        Assert.True(job.Status == JobStatus.Succeeded, job.Error);
        var package = Path.Combine(_server.DataDir, "vehicle.zip");
        await _client.Models.DownloadAsync("vehicle:1", package);
        ModelManifest manifest;
        await using (var stream = File.OpenRead(package)) manifest = Stratus.Ml.Inference.ModelPackage.ReadManifest(stream);
        Assert.Equal(names[..5], manifest.Inputs.Select(i => i.Name));
        Assert.Equal(["round", "square"], manifest.Inputs[2].Categories!);
        Assert.Equal(["1st", "2nd", "3rd"], manifest.Inputs[3].Categories!);
        Assert.Equal(["bus", "van"], manifest.Classes.Order());

        await _client.Endpoints.DeployAsync("vehicle", "vehicle:1");
        Dictionary<string, System.Text.Json.JsonElement> Row(int upper, int lower) => new()
        {
            ["Sc.Var.Maxis"] = Json(upper.ToString(System.Globalization.CultureInfo.InvariantCulture)), ["Sc.Var.maxis"] = Json(lower.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ["Shape"] = Json("\"round\""), ["shape"] = Json("\"2nd\""), ["class"] = Json("500"),
        };
        var answer = await _client.Endpoints.PredictAsync("vehicle", new PredictRequest([Row(90, 5), Row(5, 90), Row(10, 95)]));
        Assert.Equal(["bus", "van", "van"], answer.Predictions.Select(p => p.Label));

        // Batch scoring and the drift baseline read the same columns by their own names.
        var batch = await _client.Jobs.WaitAsync((await _client.Jobs.BatchAsync(new BatchRequest("vehicle", "vehicle"))).Id, ct: TestContext.Current.CancellationToken);
        Assert.True(batch.Status == JobStatus.Succeeded, batch.Error);
        var scored = await _client.Datasets.GetAsync(batch.Batch!.Output);
        Assert.Equal([.. names, "Class_predicted", "Class_probability_van", "Class_probability_bus"], scored.Columns.Select(c => c.Name));
        var scoredCsv = Path.Combine(_server.DataDir, "scored.csv");
        await _client.Datasets.DownloadAsync(batch.Batch.Output, scoredCsv, "csv");
        var lines = (await File.ReadAllLinesAsync(scoredCsv, TestContext.Current.CancellationToken)).Select(l => l.Split(',')).ToList();
        Assert.Equal(csv.ToString().Split('\n')[1].Split(','), lines[1][..6]);
        Assert.True(lines.Skip(1).Count(l => l[5] == l[6]) >= 380, "the batch predictions follow Sc.Var.Maxis");
        var baseline = await _client.Monitoring.BaselineAsync("vehicle", 1);
        Assert.Equal(names[..5].Order(StringComparer.Ordinal), baseline.Features.Keys.Order(StringComparer.Ordinal));
        Assert.True(baseline.Features["Sc.Var.Maxis"].Quantiles![^1] > 90 && baseline.Features["Sc.Var.maxis"].Quantiles![^1] < 10);
        Assert.Equal(["1st", "2nd", "3rd"], baseline.Features["shape"].Counts!.Keys.Order());
    }

    [Theory]
    [InlineData("regression")]
    [InlineData("binary")]
    [InlineData("multiclass")]
    public async Task Should_train_on_columns_named_as_the_trainers_own_without_mixing_them_up(string task)
    {
        // Label, Features, Score and f_0 are names ML.NET pipelines use for themselves; here they are noise, and x the signal.
        var random = new Random(11);
        var csv = new StringBuilder("Label,Features,Score,f_0,x,y\n");
        for (var i = 0; i < 600; i++)
        {
            var x = random.NextDouble() * 100;
            var y = task switch
            {
                "regression" => (x * 2 + random.NextDouble() * 10).ToString("F3", System.Globalization.CultureInfo.InvariantCulture),
                "binary" => x + (random.NextDouble() * 20) > 60 ? "yes" : "no",
                _ => x < 33 ? "low" : x < 66 ? "mid" : "high",
            };
            csv.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{random.Next(1000)},{(random.Next(2) == 0 ? "a" : "b")},{random.NextDouble():F4},{random.Next(50)},{x:F3},{y}\n");
        }
        await _client.Datasets.UploadAsync($"reserved-{task}", Csv(csv.ToString()));
        var job = await _client.Jobs.WaitAsync((await _client.Jobs.TrainAsync(new TrainRequest($"reserved-{task}", "y", Task: task, Register: $"reserved-{task}", Iterations: 40))).Id,
            ct: TestContext.Current.CancellationToken);
        Assert.True(job.Status == JobStatus.Succeeded, job.Error);
        var metrics = job.Result!.Metrics;
        await _client.Endpoints.DeployAsync($"reserved-{task}", $"reserved-{task}:1");
        var rows = Enumerable.Range(0, 20).Select(i => new Dictionary<string, System.Text.Json.JsonElement>
        {
            ["Label"] = Json("500"), ["Features"] = Json("\"a\""), ["Score"] = Json("0.5"), ["f_0"] = Json("25"),
            ["x"] = Json((i * 5 + 2.5).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        }).ToList();
        var answer = await _client.Endpoints.PredictAsync($"reserved-{task}", new PredictRequest(rows));
        switch (task)
        {
            case "regression":
                Assert.InRange(metrics["r2"], 0.9, 0.999); // not 1: the label itself was never a feature
                Assert.InRange(answer.Predictions[19].Value!.Value - answer.Predictions[0].Value!.Value, 150, 230);
                break;
            case "binary":
                Assert.InRange(metrics["accuracy"], 0.75, 0.99);
                Assert.Equal(("no", "yes"), (answer.Predictions[0].Label, answer.Predictions[19].Label));
                break;
            default:
                Assert.InRange(metrics["accuracy"], 0.85, 1);
                Assert.Equal(("low", "mid", "high"), (answer.Predictions[0].Label, answer.Predictions[10].Label, answer.Predictions[19].Label));
                break;
        }
    }

    /// <summary>A Parquet file's top-level column names as DuckDB's own schema reader gives them (its queries would fold their case).</summary>
    private static List<string> ParquetNames(string parquet)
    {
        using var connection = new DuckDB.NET.Data.DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT name FROM parquet_schema('{parquet.Replace("'", "''", StringComparison.Ordinal)}') WHERE name <> 'duckdb_schema'";
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read()) names.Add(reader.GetString(0));
        return names;
    }

    private static System.Text.Json.JsonElement Json(string text) => System.Text.Json.JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public async Task Should_export_csv_with_spreadsheet_formulas_defused_and_numbers_left_alone()
    {
        await _client.Datasets.UploadAsync("formulas", Csv("note,amount\n=1+2,-5\n@SUM(A1:A9),3\n+cmd,4\n-x,5\nplain,6\n"));
        var download = Path.Combine(_server.DataDir, "formulas.csv");

        await _client.Datasets.DownloadAsync("formulas", download, "csv");

        Assert.Equal(["note,amount", "'=1+2,-5", "'@SUM(A1:A9),3", "'+cmd,4", "'-x,5", "plain,6"], await File.ReadAllLinesAsync(download));
    }

    [Theory]
    [InlineData("%00")]
    [InlineData("%01")]
    [InlineData("%22")]
    public async Task Should_refuse_a_control_character_or_quote_as_the_delimiter_naming_it(string delimiter)
    {
        using var http = _server.Http(_server.AdminToken);
        using var body = new StringContent("a,b\n1,2\n", Encoding.UTF8, "text/csv");
        using var response = await http.PostAsync($"api/v1/datasets/delims/versions?delimiter={delimiter}", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"field\":\"delimiter\"", await response.Content.ReadAsStringAsync());
        await AssertNothingStored("delims");
    }

    [Fact]
    public async Task Should_keep_the_data_directory_and_what_it_stores_to_its_user()
    {
        await _client.Datasets.UploadAsync("private", Csv(Transactions));
        if (OperatingSystem.IsWindows()) return;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_server.DataDir));
        // Blobs, the database, keys and caches alike (the test's own notes of its database and bucket aside).
        var files = Directory.GetFiles(_server.DataDir, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith("test-", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(files);
        foreach (var file in files) Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(file) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
    }

    [Fact]
    public async Task Should_refuse_binary_garbage_and_store_nothing()
    {
        var bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Datasets.UploadAsync("garbage", new MemoryStream(bytes)));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Matches("binary|UTF-8", ex.Detail);
        await AssertNothingStored("garbage");
    }

    [Fact]
    public async Task Should_give_concurrent_uploads_to_one_name_distinct_versions()
    {
        var uploads = Enumerable.Range(0, 4).Select(i => _client.Datasets.UploadAsync("race", Csv($"x,y\n{i},{i}\n")));
        var versions = await Task.WhenAll(uploads);
        Assert.Equal([1, 2, 3, 4], versions.Select(v => v.Version).Order());
    }

    [Fact]
    public async Task Should_store_the_same_bytes_once_when_uploaded_concurrently()
    {
        var versions = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => _client.Datasets.UploadAsync("twins", Csv(Transactions))));
        Assert.All(versions, v => Assert.Equal(1, v.Version));
        Assert.Single(versions, v => v.Created);
        Assert.Single((await _client.Datasets.ListVersionsAsync("twins")).Items);
    }

    [Fact]
    public async Task Should_collect_blobs_of_deleted_versions_only()
    {
        var keep = await _client.Datasets.UploadAsync("gc-keep", Csv(Transactions));
        var drop = await _client.Datasets.UploadAsync("gc-drop", Csv("q\n1\n2\n"));
        await _client.Datasets.DeleteAsync("gc-drop");

        var result = await _client.CollectGarbageAsync();

        Assert.True(result.BlobsDeleted >= 1);
        var blobs = new List<string>();
        await foreach (var b in _server.Services.GetRequiredService<IBlobStore>().ListAsync(TestContext.Current.CancellationToken)) blobs.Add(b.Sha256);
        Assert.Contains(keep.ParquetSha256, blobs);
        Assert.DoesNotContain(drop.ParquetSha256, blobs);
        Assert.Equal(4, (await _client.Datasets.GetAsync("gc-keep")).Rows);
    }

    [Fact]
    public async Task Should_name_the_field_of_a_bad_reference()
    {
        using var http = _server.Http(_server.AdminToken);
        var response = await http.GetAsync("api/v1/datasets/tx/versions/zero");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"field\":\"version\"", await response.Content.ReadAsStringAsync());
    }

    private async Task AssertNothingStored(string name)
    {
        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Datasets.GetAsync(name));
        Assert.Equal(HttpStatusCode.NotFound, ex.Status);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_server.DataDir, "tmp")));
    }
}
