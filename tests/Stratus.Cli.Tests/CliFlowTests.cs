using System.Text;
using System.Text.Json;
using Stratus.Client;

using Stratus.Testing;

namespace Stratus.Cli.Tests;

public sealed class CliFlowTests : IAsyncLifetime
{
    private readonly string _home = Directory.CreateTempSubdirectory("stratus-cli-").FullName;
    private ServerProcess _server = null!;

    public async ValueTask InitializeAsync() => _server = await ServerProcess.StartAsync(_home);

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_home, recursive: true);
    }

    private Task<Stratus.Result> Cli(params string[] args) => Stratus.RunAsync(_home, args);

    private async Task<JsonElement> Json(params string[] args)
    {
        var result = await Cli([.. args, "--output", "json"]);
        Assert.True(result.ExitCode == 0, $"stratus {string.Join(' ', args)} failed: {result.Err}");
        return JsonDocument.Parse(result.Out).RootElement.Clone();
    }

    [Fact]
    public async Task Should_drive_datasets_registry_tokens_and_audit_from_the_command_line()
    {
        // The CLI finds the local server and its admin token by itself (STRATUS_HOME holds server.json and admin.token).
        var csv = Path.Combine(_home, "cards.csv");
        await File.WriteAllTextAsync(csv, "amount,merchant,fraud\n12.5,grocery,0\n830,electronics,1\n7.25,grocery,0\n");

        var uploaded = await Json("datasets", "upload", csv, "--name", "cards");
        Assert.Equal("cards", uploaded.GetProperty("name").GetString());
        Assert.Equal(1, uploaded.GetProperty("version").GetInt32());
        Assert.Equal(3, uploaded.GetProperty("rows").GetInt64());
        Assert.Equal(64, uploaded.GetProperty("sha256").GetString()!.Length);
        Assert.Equal(["amount:DOUBLE", "merchant:VARCHAR", "fraud:BIGINT"],
            uploaded.GetProperty("columns").EnumerateArray().Select(c => $"{c.GetProperty("name").GetString()}:{c.GetProperty("type").GetString()}"));

        var again = await Json("datasets", "upload", csv, "--name", "cards");
        Assert.Equal(1, again.GetProperty("version").GetInt32());
        Assert.False(again.GetProperty("created").GetBoolean());

        // The README's walk-through starts from the bundled sample.
        var sample = await Json("datasets", "upload", Path.Combine(Repo.Root, "samples", "transactions.csv"), "--name", "transactions");
        Assert.Equal(500, sample.GetProperty("rows").GetInt64());
        Assert.Equal(6, sample.GetProperty("columns").GetArrayLength());

        // Training through the CLI: one JSON object with run_id, metrics and the registered model.
        var trained = await Json("train", "--dataset", "transactions", "--target", "fraud", "--register", "fraud-cli", "--iterations", "20");
        Assert.Equal(32, trained.GetProperty("run_id").GetString()!.Length);
        Assert.InRange(trained.GetProperty("metrics").GetProperty("auc").GetDouble(), 0.5, 1.0);
        Assert.Equal("fraud-cli", trained.GetProperty("model").GetProperty("name").GetString());
        Assert.Equal(1, trained.GetProperty("model").GetProperty("version").GetInt32());
        Assert.Equal(20, trained.GetProperty("iterations").GetInt32());
        Assert.Equal(500, trained.GetProperty("confusion_matrix").GetProperty("counts").EnumerateArray().Sum(r => r.EnumerateArray().Sum(c => c.GetInt64())));
        // The learning curve, drawn in the terminal: one series, iterations 1..20.
        var curve = await Cli("runs", "metrics", trained.GetProperty("run_id").GetString()!, "--key", "valid.log_loss");
        Assert.Equal(0, curve.ExitCode);
        Assert.Contains("valid.log_loss", curve.Out);
        Assert.Contains("1..20", curve.Out);
        Assert.Contains("→", curve.Out);
        // Deploy, call the endpoint, and batch-score the same file: the same rows get the same probabilities.
        await Json("endpoints", "deploy", "fraud-live", "--model", "fraud-cli:1");
        var lines = (await File.ReadAllLinesAsync(Path.Combine(Repo.Root, "samples", "transactions.csv"))).Take(6).ToList();
        var header = lines[0].Split(',');
        var instances = lines.Skip(1).Select(l => "{" + string.Join(",", l.Split(',').Select((v, i) =>
            $"\"{header[i]}\": {(header[i] == "merchant_category" ? $"\"{v}\"" : v)}")) + "}");
        var live = await Json("predict", "fraud-live", "--json", $"{{\"instances\": [{string.Join(",", instances)}]}}");
        Assert.Equal(5, live.GetProperty("predictions").GetArrayLength());
        Assert.Equal("fraud-cli", live.GetProperty("model").GetProperty("name").GetString());

        var scored = Path.Combine(_home, "scored.csv");
        var batch = await Json("predict", "--model", "fraud-cli", "--file", Path.Combine(Repo.Root, "samples", "transactions.csv"), "--out", scored);
        Assert.Equal("500", batch.GetProperty("rows").GetString());
        var output = await File.ReadAllLinesAsync(scored);
        Assert.Equal("0,1,label", output[0]);
        Assert.Equal(501, output.Length);
        for (var i = 0; i < 5; i++)
        {
            var p1 = double.Parse(output[i + 1].Split(',')[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(live.GetProperty("predictions")[i].GetProperty("probabilities").GetProperty("1").GetDouble(), p1, 6);
        }

        // AutoML through the CLI: the same JSON contract plus the trial count, within its budget.
        var searched = await Json("automl", "--dataset", "transactions", "--target", "fraud", "--budget", "8s", "--register", "fraud-auto");
        Assert.True(searched.GetProperty("trials").GetInt32() >= 2, searched.ToString());
        Assert.Equal("auc", searched.GetProperty("metric").GetString());
        Assert.InRange(searched.GetProperty("metrics").GetProperty("auc").GetDouble(), 0.5, 1.0);
        Assert.Equal("fraud-auto", searched.GetProperty("model").GetProperty("name").GetString());
        Assert.Equal(32, searched.GetProperty("run_id").GetString()!.Length);
        var badBudget = await Cli("automl", "--dataset", "transactions", "--target", "fraud", "--budget", "soon");
        Assert.Equal(1, badBudget.ExitCode);
        Assert.Contains("--budget: 'soon' is not a duration", badBudget.Err);

        // The endpoint's requests split between the trained and the searched model, by weight.
        var split = await Json("endpoints", "traffic", "fraud-live", "--split", "fraud-cli:1=70", "--split", "fraud-auto:1=30");
        Assert.Equal([("fraud-cli", 70), ("fraud-auto", 30)], split.GetProperty("traffic").EnumerateArray()
            .Select(t => (t.GetProperty("model").GetProperty("name").GetString(), t.GetProperty("weight").GetInt32())));
        var badSplit = await Cli("endpoints", "traffic", "fraud-live", "--split", "fraud-cli:1");
        Assert.Equal(1, badSplit.ExitCode);
        Assert.Contains("--split 'fraud-cli:1' must be MODEL=PERCENT", badSplit.Err);
        var overfull = await Cli("endpoints", "traffic", "fraud-live", "--split", "fraud-cli:1=70", "--split", "fraud-auto:1=40");
        Assert.Equal(1, overfull.ExitCode);
        Assert.Contains("the weights add up to 110", overfull.Err);

        // Drift: nothing captured yet is insufficient data, never "no drift"; a malformed rule names the option.
        var drift = await Json("monitor", "drift", "fraud-live", "--window-minutes", "5");
        Assert.Equal(("insufficient_data", "fraud-cli"), (drift.GetProperty("status").GetString(), drift.GetProperty("model").GetProperty("name").GetString()));
        Assert.All(drift.GetProperty("features").EnumerateArray(), f => Assert.Equal("insufficient_data", f.GetProperty("status").GetString()));
        var badRule = await Cli("monitor", "drift", "fraud-live", "--rule", "amount=psi");
        Assert.Equal(1, badRule.ExitCode);
        Assert.Contains("--rule 'amount=psi' must be COLUMN=METHOD:THRESHOLD", badRule.Err);
        var history = await Cli("monitor", "history", "fraud-live");
        Assert.Contains("fraud-cli:1", history.Out);
        Assert.Contains("insufficient", history.Out);

        // Feedback from a CSV, read as an upload is (a quoted label may hold a comma): a request that was not captured
        // is refused by its item; a broken file by its line; live performance reads back.
        var labels = Path.Combine(_home, "labels.csv");
        await File.WriteAllTextAsync(labels, "request_id,label\nnever-captured,1\n\"also, never\",\"yes, it was\"\n");
        var refusedLabels = await Cli("monitor", "feedback", "fraud-live", "--file", labels);
        Assert.Equal(1, refusedLabels.ExitCode);
        Assert.Contains("2 of 2 labels were refused", refusedLabels.Err);
        Assert.Contains("items[0].request_id: 'never-captured' (row 0) was not captured", refusedLabels.Err);
        Assert.Contains("items[1].request_id: 'also, never' (row 0) was not captured", refusedLabels.Err);
        await File.WriteAllTextAsync(labels, "request_id\nx\n");
        Assert.Contains("needs the columns request_id and label", (await Cli("monitor", "feedback", "fraud-live", "--file", labels)).Err);
        await File.WriteAllTextAsync(labels, "request_id,label\na,1\nb,1,2\n");
        Assert.Contains("labels.csv: line 3", (await Cli("monitor", "feedback", "fraud-live", "--file", labels)).Err);
        var performance = await Json("monitor", "performance", "fraud-live", "--buckets", "2");
        Assert.Equal((2, 0), (performance.GetProperty("windows").GetArrayLength(), performance.GetProperty("windows").EnumerateArray().Sum(w => w.GetProperty("labelled").GetInt32())));

        // A policy: set, shown, run by hand (no traffic: not judged), its decisions listed; a bad trigger names the option's field.
        var policy = await Cli("monitor", "set", "fraud-live", "--drift", "psi>0.2", "--schedule", "0 3 * * *", "--retrain", "automl:60s", "--interval", "30s");
        Assert.True(policy.ExitCode == 0, policy.Err);
        var policyText = string.Join(' ', policy.Out.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("fires on drift psi>0.2", policyText);
        Assert.Contains("Checked on schedule 0 3 * * * (UTC); next", policyText);
        Assert.Contains("retrain (automl:60s), promote if-better by 0.005 (alias champion, canary 10% +10% every 30 s)", policyText);
        var shown = await Json("monitor", "policy", "fraud-live");
        Assert.Equal(3, shown.GetProperty("next_check_at").GetDateTimeOffset().ToUniversalTime().Hour);
        var badPolicy = await Cli("monitor", "set", "fraud-live", "--drift", "psi=0.2");
        Assert.Equal(1, badPolicy.ExitCode);
        Assert.Contains("drift: 'psi=0.2' is not a drift trigger", badPolicy.Err);
        var ran = await Cli("monitor", "run", "fraud-live");
        Assert.True(ran.ExitCode == 0, ran.Err);
        Assert.Contains("insufficient data", ran.Out);
        Assert.Contains("not judged", string.Join(' ', ran.Out.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        Assert.Contains("manual", (await Cli("monitor", "decisions", "fraud-live")).Out);

        // The report: a summary on the terminal, the plots in an HTML file.
        var reportFile = Path.Combine(_home, "fraud-live.html");
        var reported = await Cli("monitor", "report", "fraud-live", "--html", reportFile);
        Assert.True(reported.ExitCode == 0, reported.Err);
        Assert.Contains("Latest check:", reported.Out);
        Assert.Contains("Report with plots:", reported.Out);
        var page = await File.ReadAllTextAsync(reportFile);
        Assert.Contains("<h1>fraud-live</h1>", page);
        Assert.Contains("<svg", page);
        Assert.Contains("Policy decisions", page);
        Assert.Equal(0, (await Cli("monitor", "unset", "fraud-live")).ExitCode);
        Assert.Equal(1, (await Cli("monitor", "policy", "fraud-live")).ExitCode);

        // Replicas: the endpoint may scale to zero; a maximum below the minimum names the option.
        var scaled = await Cli("endpoints", "scale", "fraud-live", "--min", "0", "--max", "2", "--idle-seconds", "60");
        Assert.Equal(0, scaled.ExitCode);
        Assert.Contains("(0 to 2, idle ones stop after 60 s; scales to zero)", string.Join(' ', scaled.Out.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        var badScale = await Cli("endpoints", "scale", "fraud-live", "--min", "3", "--max", "2");
        Assert.Equal(1, badScale.ExitCode);
        Assert.Contains("max_replicas: is 2, below min_replicas (3)", badScale.Err);

        // Batch inference from the command line: the scored rows become a dataset version.
        var scoredAll = await Json("batch", "--model", "fraud-cli:1", "--dataset", "transactions");
        Assert.Equal(("transactions-predictions:1", 500), (scoredAll.GetProperty("output").GetString(), scoredAll.GetProperty("rows").GetInt32()));
        var badBatch = await Cli("batch", "--model", "fraud-cli:1", "--dataset", "cards");
        Assert.Equal(1, badBatch.ExitCode);
        Assert.Contains("cards:1 has no column", badBatch.Err);

        // An ONNX model imported with a signature file, deployed and called like a trained one; a broken file is refused.
        var (onnx, _) = OnnxGraph.Mlp(3, 2, 8, 2);
        var onnxFile = Path.Combine(_home, "scorer.onnx");
        await File.WriteAllBytesAsync(onnxFile, onnx);
        var signatureFile = Path.Combine(_home, "signature.json");
        await File.WriteAllTextAsync(signatureFile, """{"task": "binary", "classes": ["ok", "fraud"], "inputs": [{"tensor": "x", "columns": ["amount", "hour"]}], "scores": "logits"}""");
        var imported = await Json("models", "import", onnxFile, "--name", "scorer", "--signature", signatureFile);
        Assert.Equal(("scorer", 1), (imported.GetProperty("name").GetString(), imported.GetProperty("version").GetInt32()));
        await Json("endpoints", "deploy", "scorer-live", "--model", "scorer:1");
        var onnxAnswer = await Json("predict", "scorer-live", "--json", """{"instances": [{"amount": 30, "hour": 2}]}""");
        Assert.Contains(onnxAnswer.GetProperty("predictions")[0].GetProperty("label").GetString(), new[] { "ok", "fraud" });
        await File.WriteAllBytesAsync(onnxFile, onnx[..(onnx.Length / 3)]);
        var broken = await Cli("models", "import", onnxFile, "--name", "scorer");
        Assert.Equal(1, broken.ExitCode);
        Assert.Contains("model: not an ONNX model", broken.Err);
        var badSignature = await Cli("models", "import", onnxFile, "--name", "scorer", "--signature", csv);
        Assert.Equal(1, badSignature.ExitCode);
        Assert.Contains("--signature: cards.csv is not a valid signature", badSignature.Err);

        var badTarget = await Cli("train", "--dataset", "transactions", "--target", "nope");
        Assert.Equal(1, badTarget.ExitCode);
        Assert.Contains("'nope' does not exist", badTarget.Err);

        var table = await Cli("datasets", "list");
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("cards", table.Out);
        var profile = await Json("datasets", "show", "cards:1", "--profile");
        Assert.Equal(830, profile[0].GetProperty("max").GetDouble());
        Assert.Equal("grocery", profile[1].GetProperty("top_values")[0].GetProperty("value").GetString());

        var download = Path.Combine(_home, "copy.csv");
        await Json("datasets", "download", "cards", "--out", download, "--format", "csv");
        Assert.Equal(4, (await File.ReadAllLinesAsync(download)).Length);

        // A run made through the SDK, registered and aliased through the CLI.
        var client = StratusClient.Create(_server.Url, (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim());
        var run = await client.Runs.CreateAsync(new CreateRunRequest("cli-flow"));
        await client.Runs.LogInputsAsync(run.Id, ["cards:1"]);
        // Only a loadable package can be registered: one made by importing an ONNX network.
        var netOnnx = Path.Combine(_home, "net.onnx");
        await File.WriteAllBytesAsync(netOnnx, global::Stratus.Testing.OnnxGraph.Mlp(3, 2, 4, 2).Model);
        await Json("models", "import", netOnnx, "--name", "net");
        var package = Path.Combine(_home, "net.zip");
        await client.Models.DownloadAsync("net:1", package);
        await using (var stream = File.OpenRead(package)) await client.Runs.LogArtifactAsync(run.Id, "model.zip", stream);
        await client.Runs.EndAsync(run.Id);

        var registered = await Json("models", "register", "fraud", "--run", run.Id, "--artifact", "model.zip");
        Assert.Equal(1, registered.GetProperty("version").GetInt32());
        await Json("models", "alias", "fraud", "champion", "1");
        var champion = await Json("models", "show", "fraud@champion");
        Assert.Equal("cards", champion.GetProperty("lineage").GetProperty("datasets")[0].GetProperty("dataset").GetString());
        var nothing = await Cli("models", "rollback", "fraud", "champion");
        Assert.Equal(1, nothing.ExitCode);
        Assert.Contains("nothing to roll back to", nothing.Err);
        await Json("models", "register", "fraud", "--run", run.Id, "--artifact", "model.zip");
        await Json("models", "alias", "fraud", "champion", "2");
        Assert.Equal(1, (await Json("models", "rollback", "fraud", "champion")).GetProperty("version").GetInt32());
        Assert.Contains("cli-flow", (await Cli("runs", "list")).Out);

        // A viewer token, used through `stratus login`, can read but not write.
        var viewer = await Json("tokens", "create", "dana", "--role", "viewer");
        var secret = viewer.GetProperty("token").GetString()!;
        // The token on standard input, where `ps` cannot see it; none at all is refused with the ways to give one.
        var noToken = await Cli("login", "--url", _server.Url);
        Assert.Equal(1, noToken.ExitCode);
        Assert.Contains("login needs a token: on standard input", noToken.Err);
        var login = await Stratus.RunAsync(_home, secret + "\n", "login", "--url", _server.Url);
        Assert.Equal(0, login.ExitCode);
        Assert.Contains("as dana (viewer)", login.Out);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_home, "credentials.json")));
        Assert.Equal(0, (await Cli("datasets", "list")).ExitCode);
        var refused = await Cli("experiments", "create", "not-allowed");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("role", refused.Err);

        var audit = await Cli("audit", "--output", "json", "--token", (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim(), "--url", _server.Url);
        Assert.Equal(0, audit.ExitCode);
        Assert.Contains("\"actor\":\"dana\"", audit.Out);
        Assert.Contains("\"outcome\":\"refused\"", audit.Out);

        // The chain holds, and exports for a SIEM as JSON lines, oldest first, each row with its hashes; a viewer may do neither.
        var admin = new[] { "--token", (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim(), "--url", _server.Url };
        var verified = await Cli(["audit", "verify", .. admin]);
        Assert.True(verified.ExitCode == 0, verified.Err);
        Assert.Contains("intact:", verified.Out);
        var exported = Path.Combine(_home, "audit.jsonl");
        var export = await Cli(["audit", "export", "--since", "1h", "--out", exported, .. admin]);
        Assert.True(export.ExitCode == 0, export.Err);
        var rows = (await File.ReadAllLinesAsync(exported)).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(rows, l => l.GetProperty("actor").GetString() == "dana");
        Assert.Equal(rows.Select(l => l.GetProperty("id").GetInt64()).Order(), rows.Select(l => l.GetProperty("id").GetInt64()));
        Assert.All(rows.Skip(1).Zip(rows), p => Assert.Equal(p.Second.GetProperty("hash").GetString(), p.First.GetProperty("prev_hash").GetString()));
        Assert.Equal(1, (await Cli("audit", "verify")).ExitCode);

        // People and programs own tokens: a user's tokens act under the user's name, and a disabled user's stop.
        var erin = await Cli(["users", "create", "erin", .. admin]);
        Assert.True(erin.ExitCode == 0, erin.Err);
        var erinsToken = await Cli(["tokens", "create", "erin-laptop", "--user", "erin", "--role", "editor", .. admin]);
        Assert.True(erinsToken.ExitCode == 0, erinsToken.Err);
        Assert.Contains("of erin", erinsToken.Out);
        var asErin = new[] { "--token", erinsToken.Out.Trim().Split('\n')[^1], "--url", _server.Url };
        // Erin is in no project yet: default does not exist for her; she makes one of her own, and an admin lets her read default.
        var outside = await Cli(["experiments", "list", .. asErin]);
        Assert.True(outside.ExitCode == 1 && outside.Err.Contains("project 'default' does not exist", StringComparison.Ordinal), outside.Err);
        Assert.Equal(0, (await Cli(["projects", "create", "erins-team", .. asErin])).ExitCode);
        Assert.Equal(0, (await Cli(["experiments", "create", "erins", "--project", "erins-team", .. asErin])).ExitCode);
        Assert.Equal(0, (await Cli(["projects", "members", "add", Projects.Default, "erin", "--role", "viewer", .. admin])).ExitCode);
        var inDefault = await Cli(["experiments", "list", "--output", "json", .. asErin]);
        Assert.True(inDefault.ExitCode == 0, inDefault.Err);
        Assert.DoesNotContain("\"name\":\"erins\"", inDefault.Out);
        var erinRoot = await Cli(["tokens", "create", "erin-root", "--user", "erin", "--role", "admin", .. admin]);
        Assert.Equal(1, erinRoot.ExitCode);
        Assert.Contains("role: 'erin' is not an admin", erinRoot.Err);
        var users = await Cli(["users", "list", "--output", "json", .. admin]);
        Assert.Contains("\"name\":\"erin\"", users.Out);
        Assert.Contains("\"name\":\"dana\",\"kind\":\"service\"", users.Out);
        Assert.Contains("\"user\":\"erin\"", (await Cli(["tokens", "list", "--output", "json", .. admin])).Out);
        Assert.Equal(0, (await Cli(["users", "disable", "erin", .. admin])).ExitCode);
        var disabledErin = await Cli(["experiments", "create", "erins-2", "--project", "erins-team", .. asErin]);
        Assert.Equal(1, disabledErin.ExitCode);
        Assert.Contains("unknown, revoked or expired", disabledErin.Err);

        // An application's token reaches the predictions of the endpoints it names, nothing else.
        var checkout = await Cli(["tokens", "create", "checkout", "--invoke", "fraud,fraud-eu", .. admin]);
        Assert.True(checkout.ExitCode == 0, checkout.Err);
        Assert.Contains("invoke: fraud, fraud-eu", checkout.Out);
        var mixed = await Cli(["tokens", "create", "mixed", "--invoke", "fraud", "--role", "admin", .. admin]);
        Assert.NotEqual(0, mixed.ExitCode);
        Assert.Contains("leave out --role", mixed.Err);
        var asApp = await Cli(["datasets", "list", "--token", checkout.Out.Trim().Split('\n')[^1], "--url", _server.Url]);
        Assert.Equal(1, asApp.ExitCode);
        Assert.Contains("may only call the predict route of endpoint fraud, fraud-eu", asApp.Err);

        // The key-encryption key rotates: every data key re-wrapped, the blobs untouched and still read.
        var rotated = await Cli(["keys", "rotate", .. admin]);
        Assert.True(rotated.ExitCode == 0, rotated.Err);
        Assert.Matches("data keys re-wrapped, key [0-9a-f]+ retired", System.Text.RegularExpressions.Regex.Replace(rotated.Out, @"\s+", " "));
        Assert.Contains("active", (await Cli(["keys", "list", .. admin])).Out);
        var afterRotation = await Cli(["datasets", "download", "cards", "--out", Path.Combine(_home, "cards-after-rotation.csv"), "--format", "csv", .. admin]);
        Assert.True(afterRotation.ExitCode == 0, afterRotation.Err);

        // A secret is set from standard input, never the command line, and listed without its value.
        var setSecret = await Stratus.RunAsync(_home, "https://hooks.example.com/services/T0/B0/cli-secret-marker\n", ["secrets", "set", "slack-hook", .. admin]);
        Assert.True(setSecret.ExitCode == 0, setSecret.Err);
        Assert.Contains("use it as secret:slack-hook", setSecret.Out);
        var secrets = await Cli(["secrets", "list", "--output", "json", .. admin]);
        Assert.Contains("\"slack-hook\"", secrets.Out);
        Assert.DoesNotContain("cli-secret-marker", secrets.Out);
        var empty = await Stratus.RunAsync(_home, "", ["secrets", "set", "empty", .. admin]);
        Assert.Equal((1, "error: secrets set needs a value on standard input (stratus secrets set NAME < file) or at the prompt"), (empty.ExitCode, empty.Err.Trim()));
        Assert.Equal(0, (await Cli(["secrets", "delete", "slack-hook", .. admin])).ExitCode);
        Assert.Contains("secret 'slack-hook' does not exist", (await Cli(["secrets", "delete", "slack-hook", .. admin])).Err);
    }


    [Fact]
    public async Task Should_explain_bad_input_in_one_line_without_a_stack_trace()
    {
        var ragged = Path.Combine(_home, "ragged.csv");
        await File.WriteAllTextAsync(ragged, "a,b,c\n1,2,3\n4,5\n");
        var bad = await Cli("datasets", "upload", ragged, "--name", "ragged");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("line 3", bad.Err);
        Assert.DoesNotContain("   at ", bad.Err);

        var missing = await Cli("datasets", "upload", Path.Combine(_home, "nope.csv"), "--name", "x");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("does not exist", missing.Err);

        var badName = await Cli("datasets", "upload", ragged, "--name", "../etc");
        Assert.Equal(1, badName.ExitCode);
        Assert.Contains("name", badName.Err);

        var usage = await Cli("datasets", "upload", ragged);
        Assert.NotEqual(0, usage.ExitCode);
        Assert.Contains("--name", usage.Err + usage.Out);
    }
}
