using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Stratus.Ml.Data;
using Stratus.Ml.Inference;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus endpoints …</c> and <c>stratus predict</c>.</summary>
internal static class ServingCommands
{
    private static string Replicas(EndpointInfo e) =>
        $"{e.Replicas} replica{(e.Replicas == 1 ? "" : "s")} running ({e.Scaling.MinReplicas} to {e.Scaling.MaxReplicas}, idle ones stop after {e.Scaling.IdleSeconds} s{(e.Scaling.MinReplicas == 0 ? "; scales to zero" : "")})";

    public static Command Endpoints()
    {
        var command = new Command("endpoints", "Deploy models behind real-time REST endpoints");

        var name = new Argument<string>("name") { Description = "Endpoint name" };
        var model = new Option<string>("--model") { Description = "MODEL@ALIAS, MODEL:VERSION or MODEL (latest)", Required = true };
        var deploy = new Command("deploy", "Deploy an endpoint, or switch it to another model version without dropping requests") { name, model };
        deploy.SetAction(Remote(async (result, client, ct) =>
        {
            var endpoint = await client.Endpoints.DeployAsync(result.GetValue(name)!, result.GetValue(model)!, ct);
            Print(result, endpoint, StratusJsonContext.Default.EndpointInfo, e =>
            {
                AnsiConsole.MarkupLine($"Endpoint [bold]{Esc(e.Name)}[/] serves {Esc(e.Model.Name)}:{e.Model.Version} ({Esc(e.ModelRef)}). Try it:");
                Console.WriteLine($"stratus predict {e.Name} --json '{{\"instances\": [{{...}}]}}'");
            });
        }));
        command.Subcommands.Add(deploy);

        var list = new Command("list", "List endpoints");
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Endpoints.ListAsync(ct: ct), StratusJsonContext.Default.PageEndpointInfo, p =>
            {
                var table = NewTable("Endpoint", "Traffic", "Deployed as", "Updated");
                foreach (var e in p.Items) table.AddRow(Esc(e.Name), Esc(Traffic(e)), Esc(e.ModelRef), When(e.UpdatedAt));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(list);

        var show = new Command("show", "Show an endpoint") { name };
        show.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Endpoints.GetAsync(result.GetValue(name)!, ct), StratusJsonContext.Default.EndpointInfo,
                e => AnsiConsole.MarkupLine($"[bold]{Esc(e.Name)}[/] serves {Esc(Traffic(e))}, {e.Limits.MaxConcurrency} requests at once with {e.Limits.MaxQueue} waiting{(e.Batching.Enabled ? $", batching up to {e.Batching.MaxBatchRows} rows ({e.Batching.MaxDelayMs} ms)" : "")}, {Replicas(e)}, updated {When(e.UpdatedAt)}"))));
        command.Subcommands.Add(show);

        var maxConcurrency = new Option<int>("--max-concurrency") { Description = "Requests scored at once", Required = true };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests that may wait for a turn; more get 429 with Retry-After", Required = true };
        var timeoutMs = new Option<int?>("--timeout-ms") { Description = "The longest a request may take (503 while waiting for a turn, 504 once scoring); no limit when left out" };
        var strictCategories = new Option<bool>("--strict-categories") { Description = "Refuse requests with a category the model never saw (by default it scores as unseen and counts as a new category in monitoring)" };
        var limits = new Command("limits", "Set how many requests an endpoint scores at once, how many may wait, how long one may take, and whether unseen categories are refused")
            { name, maxConcurrency, maxQueue, timeoutMs, strictCategories };
        limits.SetAction(Remote(async (result, client, ct) =>
        {
            var endpoint = await client.Endpoints.SetLimitsAsync(result.GetValue(name)!,
                new EndpointLimits(result.GetValue(maxConcurrency), result.GetValue(maxQueue), result.GetValue(timeoutMs), result.GetValue(strictCategories)), ct);
            Print(result, endpoint, StratusJsonContext.Default.EndpointInfo,
                e => AnsiConsole.MarkupLine($"Endpoint [bold]{Esc(e.Name)}[/] scores {e.Limits.MaxConcurrency} requests at once with {e.Limits.MaxQueue} waiting; more get 429" +
                    (e.Limits.TimeoutMs is { } ms ? $"; each may take {ms} ms" : "") + (e.Limits.StrictCategories ? "; unseen categories are refused" : "")));
        }));
        command.Subcommands.Add(limits);

        var minReplicas = new Option<int>("--min") { Description = "Replicas kept running when idle; 0 lets the endpoint scale to zero (its models leave memory, the next request wakes it)", Required = true };
        var maxReplicas = new Option<int?>("--max") { Description = "The most replicas, and so model calls at once (default: one per core)" };
        var idleSeconds = new Option<int>("--idle-seconds") { Description = "How long a replica may go unneeded before it stops", DefaultValueFactory = _ => 300 };
        var scale = new Command("scale", "Set an endpoint's replicas: from --min to --max, following the requests in flight") { name, minReplicas, maxReplicas, idleSeconds };
        scale.SetAction(Remote(async (result, client, ct) =>
        {
            var min = result.GetValue(minReplicas);
            var endpoint = await client.Endpoints.SetScalingAsync(result.GetValue(name)!, min, result.GetValue(maxReplicas) ?? Math.Max(min, Environment.ProcessorCount), result.GetValue(idleSeconds), ct);
            Print(result, endpoint, StratusJsonContext.Default.EndpointInfo, e => AnsiConsole.MarkupLine($"Endpoint [bold]{Esc(e.Name)}[/]: {Replicas(e)}"));
        }));
        command.Subcommands.Add(scale);

        var sampleRate = new Option<double?>("--sample-rate") { Description = "The share of answered requests to record, 0 (off) to 1 (all); without it, show the latest captured rows" };
        var captureLimit = new Option<int>("--limit") { Description = "How many captured rows to show", DefaultValueFactory = _ => 20 };
        var capture = new Command("capture", "Record a share of an endpoint's requests for monitoring (--sample-rate), or show the latest captured rows") { name, sampleRate, captureLimit };
        capture.SetAction(Remote(async (result, client, ct) =>
        {
            var endpointName = result.GetValue(name)!;
            if (result.GetValue(sampleRate) is { } rate)
            {
                Print(result, await client.Endpoints.SetCaptureAsync(endpointName, rate, ct), StratusJsonContext.Default.EndpointInfo, e => AnsiConsole.MarkupLine(e.Capture.SampleRate > 0
                    ? $"Endpoint [bold]{Esc(e.Name)}[/] records {e.Capture.SampleRate:P0} of its answered requests for monitoring"
                    : $"Endpoint [bold]{Esc(e.Name)}[/] records no requests"));
                return;
            }
            Print(result, await client.Endpoints.CapturesAsync(endpointName, result.GetValue(captureLimit), ct), StratusJsonContext.Default.IReadOnlyListCapturedRow, rows =>
            {
                var table = NewTable("Time", "Request", "Model", "Inputs", "Prediction");
                foreach (var r in rows)
                {
                    table.AddRow(When(r.Time), Esc($"{r.RequestId}#{r.Row}"), Esc($"{r.Model.Name}:{r.Model.Version}"),
                        Esc(string.Join(", ", r.Inputs.Select(i => $"{i.Key}={i.Value.GetRawText()}"))), Esc(r.Prediction.Label ?? r.Prediction.Value?.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)));
                }
                AnsiConsole.Write(table);
            });
        }));
        command.Subcommands.Add(capture);

        var off = new Option<bool>("--off") { Description = "Score each request alone again" };
        var maxRows = new Option<int>("--max-rows") { Description = "The most rows one model call scores", DefaultValueFactory = _ => 64 };
        var maxDelay = new Option<double>("--max-delay-ms") { Description = "The most a request waits for others to join its batch, in milliseconds", DefaultValueFactory = _ => 5 };
        var batching = new Command("batching", "Turn adaptive micro-batching on (concurrent requests scored in one model call) or off (--off)") { name, off, maxRows, maxDelay };
        batching.SetAction(Remote(async (result, client, ct) =>
        {
            var settings = new EndpointBatching(!result.GetValue(off), result.GetValue(maxRows), result.GetValue(maxDelay));
            Print(result, await client.Endpoints.SetBatchingAsync(result.GetValue(name)!, settings, ct), StratusJsonContext.Default.EndpointInfo, e => AnsiConsole.MarkupLine(e.Batching.Enabled
                ? $"Endpoint [bold]{Esc(e.Name)}[/] batches concurrent requests: up to {e.Batching.MaxBatchRows} rows per model call, waiting at most {e.Batching.MaxDelayMs} ms"
                : $"Endpoint [bold]{Esc(e.Name)}[/] scores each request alone"));
        }));
        command.Subcommands.Add(batching);

        var split = new Option<string[]>("--split")
        {
            Description = "MODEL=PERCENT, once per version (MODEL is NAME:VERSION, NAME@ALIAS or NAME); the percents add up to 100",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var shadow = new Option<string?>("--shadow") { Description = "A version that scores a copy of every request; its predictions are recorded, never returned" };
        var traffic = new Command("traffic", "Split an endpoint's requests between model versions, optionally with a shadow version") { name, split, shadow };
        traffic.SetAction(Remote(async (result, client, ct) =>
        {
            var versions = result.GetValue(split)!.Select(ParseSplit).ToList();
            var endpoint = await client.Endpoints.SetTrafficAsync(result.GetValue(name)!, new TrafficRequest(versions, result.GetValue(shadow)), ct);
            Print(result, endpoint, StratusJsonContext.Default.EndpointInfo, e => AnsiConsole.MarkupLine($"Endpoint [bold]{Esc(e.Name)}[/] serves {Esc(Traffic(e))}"));
        }));
        command.Subcommands.Add(traffic);

        var rolloutModel = new Option<string?>("--model") { Description = "Start rolling out this version: MODEL:VERSION, MODEL@ALIAS or MODEL" };
        var canary = new Option<int>("--canary") { Description = "Its first share of the traffic, in percent", DefaultValueFactory = _ => 10 };
        var step = new Option<int>("--step") { Description = "Percent added after each healthy interval", DefaultValueFactory = _ => 10 };
        var interval = new Option<string>("--interval") { Description = "Time between steps: 30s, 1m, 1h", DefaultValueFactory = _ => "1m" };
        var maxErrorRate = new Option<double>("--max-error-rate") { Description = "Roll back when the new version fails this share of requests more than the old one", DefaultValueFactory = _ => 0.01 };
        var maxP99 = new Option<double?>("--max-p99-ms") { Description = "Roll back when the new version's p99 latency passes this many milliseconds" };
        var minRequests = new Option<int>("--min-requests") { Description = "Requests an interval needs before the new version is judged", DefaultValueFactory = _ => 20 };
        var abort = new Option<bool>("--abort") { Description = "Abort the running rollout: the old version takes all the traffic back" };
        var watch = new Option<bool>("--watch") { Description = "Follow the rollout until it ends" };
        var rollout = new Command("rollout", "Roll a new version out step by step with automatic rollback; without --model, show the latest rollout")
            { name, rolloutModel, canary, step, interval, maxErrorRate, maxP99, minRequests, abort, watch };
        rollout.SetAction(Remote(async (result, client, ct) =>
        {
            var endpoint = result.GetValue(name)!;
            var info = result.GetValue(abort) ? await client.Endpoints.AbortRolloutAsync(endpoint, ct)
                : result.GetValue(rolloutModel) is { } reference
                    ? await client.Endpoints.RolloutAsync(endpoint, new RolloutRequest(reference, result.GetValue(canary), result.GetValue(step),
                        AutoMlCommand.Seconds(result.GetValue(interval)!, "--interval"), result.GetValue(maxErrorRate), result.GetValue(maxP99), result.GetValue(minRequests)), ct)
                    : await client.Endpoints.GetRolloutAsync(endpoint, ct);
            if (result.GetValue(watch) && info.Status == "running")
            {
                await AnsiConsole.Status().StartAsync(Esc(Describe(info)), async status =>
                {
                    while (info.Status == "running")
                    {
                        await Task.Delay(TimeSpan.FromSeconds(1), ct);
                        info = await client.Endpoints.GetRolloutAsync(endpoint, ct);
                        status.Status(Esc(Describe(info)));
                    }
                });
            }
            Print(result, info, StratusJsonContext.Default.RolloutInfo, r => AnsiConsole.MarkupLine(Esc(Describe(r))));
        }));
        command.Subcommands.Add(rollout);

        var shadowLog = new Command("shadow", "The latest requests the shadow version scored beside the live one") { name };
        shadowLog.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Endpoints.ShadowAsync(result.GetValue(name)!, ct), StratusJsonContext.Default.IReadOnlyListShadowRecord, records =>
            {
                var table = NewTable("Time", "Request", "Live", "Shadow", "Rows", "Disagree", "Shadow ms", "Error");
                foreach (var r in records)
                {
                    table.AddRow(When(r.Time), Esc(r.RequestId), Esc($"{r.Live.Name}:{r.Live.Version}"), Esc($"{r.Shadow.Name}:{r.Shadow.Version}"), Esc(r.Rows),
                        Esc(r.Disagreements), Esc(r.Milliseconds.ToString("F2", CultureInfo.InvariantCulture)), Esc(r.Error ?? ""));
                }
                AnsiConsole.Write(table);
                var rows = records.Sum(r => r.Rows);
                if (rows > 0) AnsiConsole.MarkupLine($"The shadow disagreed with the live answer on {records.Sum(r => r.Disagreements)} of {rows} rows.");
            })));
        command.Subcommands.Add(shadowLog);

        var delete = new Command("delete", "Delete an endpoint") { name };
        delete.SetAction(Remote(async (result, client, ct) =>
        {
            await client.Endpoints.DeleteAsync(result.GetValue(name)!, ct);
            Print(result, new Dictionary<string, string> { ["deleted"] = result.GetValue(name)! }, StratusJsonContext.Default.DictionaryStringString,
                _ => AnsiConsole.MarkupLine($"Deleted endpoint {Esc(result.GetValue(name))}"));
        }));
        command.Subcommands.Add(delete);
        return command;
    }

    private static string Describe(RolloutInfo r) =>
        $"rollout {r.Id} on {r.Endpoint}: {r.From.Name}:{r.From.Version} -> {r.To.Name}:{r.To.Version} at {r.Weight}%, {r.Status.Replace('_', ' ')}{(r.Reason is null ? "" : $" ({r.Reason})")}";

    /// <summary><c>fraud:2=10</c>: a model reference and its share of the traffic.</summary>
    private static TrafficSplit ParseSplit(string text)
    {
        var at = text.LastIndexOf('=');
        if (at <= 0 || !int.TryParse(text.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var weight))
            throw new ArgumentException($"--split '{text}' must be MODEL=PERCENT, e.g. fraud:2=10");
        return new TrafficSplit(text[..at], weight);
    }

    /// <summary><c>fraud:1 90%, fraud:2 10%, shadow fraud:3</c>.</summary>
    private static string Traffic(EndpointInfo e) =>
        string.Join(", ", e.Traffic.Select(t => $"{t.Model.Name}:{t.Model.Version} {t.Weight}%"))
        + (e.Shadow is { } s ? $", shadow {s.Model.Name}:{s.Model.Version}" : "");

    public static Command Predict()
    {
        var endpoint = new Argument<string?>("endpoint") { Description = "Endpoint to call (with --json)", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<string?>("--json") { Description = "One row as a JSON object, or {\"instances\": [...]}" };
        var model = new Option<string?>("--model") { Description = "Batch mode: MODEL@ALIAS, MODEL:VERSION or MODEL" };
        var file = new Option<FileInfo?>("--file") { Description = "Batch mode: input CSV" };
        var output = new Option<string?>("--out") { Description = "Batch mode: output CSV (probability per class and label, or prediction)" };
        var command = new Command("predict", "Call an endpoint (ENDPOINT --json ...), or score a CSV file with a registered model (--model --file --out)") { endpoint, json, model, file, output };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            if (result.GetValue(endpoint) is { } name)
            {
                var text = result.GetValue(json) ?? throw new ArgumentException("give the rows with --json");
                PredictRequest request;
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    request = doc.RootElement.TryGetProperty("instances", out _)
                        ? JsonSerializer.Deserialize(text, StratusJsonContext.Default.PredictRequest)!
                        : new PredictRequest([JsonSerializer.Deserialize(text, StratusJsonContext.Default.DictionaryStringJsonElement)!]);
                }
                catch (JsonException ex)
                {
                    throw new ArgumentException($"--json is not valid JSON: {ex.Message}");
                }
                var answer = await client.Endpoints.PredictAsync(name, request, ct);
                Print(result, answer, StratusJsonContext.Default.PredictResponse, a =>
                {
                    var table = NewTable("#", "Prediction", "Probabilities");
                    for (var i = 0; i < a.Predictions.Count; i++)
                    {
                        var p = a.Predictions[i];
                        table.AddRow(Esc(i), Esc(p.Label ?? p.Value?.ToString("G6", CultureInfo.InvariantCulture)),
                            Esc(p.Probabilities is null ? "" : string.Join(", ", p.Probabilities.Select(kv => $"{kv.Key}: {kv.Value:F3}"))));
                    }
                    AnsiConsole.Write(table);
                    AnsiConsole.MarkupLine($"[grey]{Esc(a.Model.Name)}:{a.Model.Version}, request {Esc(a.RequestId)}[/]");
                });
                return;
            }
            var reference = result.GetValue(model) ?? throw new ArgumentException("give an ENDPOINT with --json, or --model with --file and --out");
            var input = result.GetValue(file) ?? throw new ArgumentException("batch mode needs --file");
            var outPath = result.GetValue(output) ?? throw new ArgumentException("batch mode needs --out");
            if (!input.Exists) throw new IOException($"file '{input.FullName}' does not exist");
            var package = Path.Combine(Path.GetTempPath(), $"stratus-model-{Guid.NewGuid():N}.zip");
            try
            {
                await client.Models.DownloadAsync(reference, package, ct);
                ModelPackage loaded;
                await using (var stream = File.OpenRead(package))
                {
                    loaded = ModelPackage.Load(stream);
                }
                var rows = BatchScorer.Score(loaded, input.FullName, Path.GetFullPath(outPath));
                var info = new Dictionary<string, string> { ["file"] = Path.GetFullPath(outPath), ["rows"] = rows.ToString(CultureInfo.InvariantCulture) };
                Print(result, info, StratusJsonContext.Default.DictionaryStringString, i => AnsiConsole.MarkupLine($"Wrote {Esc(i["rows"])} predictions to {Esc(i["file"])}"));
            }
            catch (PredictionInputException ex)
            {
                throw new ArgumentException(ex.Message.Replace("instances[", "row [", StringComparison.Ordinal));
            }
            catch (DataFormatException ex)
            {
                throw new ArgumentException($"{input.Name}: {ex.Message}");
            }
            finally
            {
                File.Delete(package);
            }
        }));
        return command;
    }
}
