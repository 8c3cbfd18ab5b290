using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Stratus;
using Stratus.Client;
using Stratus.Ml.Inference;

/// <summary>A Stratus endpoint vs a bare minimal-API endpoint in this process calling the same model package.</summary>
internal static class ServeBenchmark
{
    internal const string Row = """{"instances": [{"amount": 182.5, "merchant_category": "electronics", "hour": 2, "distance_km": 310.0, "card_present": 0, "customer_age": 34}]}""";

    /// <summary>50,000 transactions, a 100-tree LightGBM trained on them, deployed as endpoint <c>bench</c>; returns the CSV.</summary>
    internal static async Task<string> DeployAsync(StratusClient client, string work)
    {
        var csv = Path.Combine(work, "serve.csv");
        BenchData.WriteTransactions(csv, 50_000);
        await client.Datasets.UploadAsync("bench-serve", csv);
        var job = await client.Jobs.TrainAsync(new TrainRequest("bench-serve", "fraud", Exclude: ["id"], Register: "bench-serve-model", Iterations: 100));
        var done = await client.Jobs.WaitAsync(job.Id);
        if (done.Status != JobStatus.Succeeded) throw new InvalidOperationException(done.Error);
        await client.Endpoints.DeployAsync("bench", "bench-serve-model");
        return csv;
    }

    /// <summary>
    /// Stratus vs the Python stack most teams serve with: FastAPI + uvicorn (one worker per core) serving a
    /// scikit-learn pipeline with XGBoost of the same 100 trees on the same data (bench/serving/fastapi_app.py).
    /// </summary>
    public static async Task RunPythonAsync(StratusClient client, string work, string stratusUrl, string token, int requests, IReadOnlyList<int> concurrencies)
    {
        var csv = await DeployAsync(client, work);
        var script = FindUp("bench/serving/fastapi_app.py");
        var port = System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Max(e => e.Port) + 1;
        var python = System.Diagnostics.Process.Start(new ProcessStartInfo("/usr/bin/python3", [script, csv, port.ToString(System.Globalization.CultureInfo.InvariantCulture), Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        // Drained as it comes: a full pipe would stop the workers at their next warning.
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        python.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            errors.Enqueue(e.Data);
            while (errors.Count > 20 && errors.TryDequeue(out var _)) { }
        };
        python.OutputDataReceived += (_, _) => { };
        python.BeginErrorReadLine();
        python.BeginOutputReadLine();
        try
        {
            var pythonUrl = $"http://127.0.0.1:{port}";
            using (var probe = new HttpClient())
            {
                for (var waited = 0; ; waited++)
                {
                    if (python.HasExited) throw new InvalidOperationException($"the FastAPI reference did not start: {string.Join('\n', errors)}");
                    try
                    {
                        if ((await probe.GetAsync($"{pythonUrl}/health")).IsSuccessStatusCode) break;
                    }
                    catch (HttpRequestException) when (waited < 240)
                    {
                    }
                    await Task.Delay(500);
                }
            }
            Console.WriteLine($"serve vs Python: FastAPI {Versions()} with {Environment.ProcessorCount} uvicorn workers, scikit-learn one-hot + XGBoost 100 trees vs Stratus LightGBM 100 trees; " +
                $"one row per request, {requests:N0} requests per run, alternating {Rounds} times");
            foreach (var concurrency in concurrencies)
            {
                var ratios = new List<(double Throughput, double P50, double P99)>();
                for (var round = 0; round < Rounds; round++)
                {
                    (double Rps, double P50, double P99) reference;
                    try
                    {
                        reference = await Load($"{pythonUrl}/predict", null, Row, concurrency, requests);
                    }
                    catch (HttpRequestException)
                    {
                        Console.Error.WriteLine($"the FastAPI reference failed:\n{string.Join('\n', errors)}");
                        throw;
                    }
                    var stratus = await Load($"{stratusUrl}/api/v1/endpoints/bench/predict", token, Row, concurrency, requests);
                    Console.WriteLine($"  concurrency {concurrency,2}: FastAPI {reference.Rps,8:F0} req/s p50 {reference.P50,6:F2} ms p99 {reference.P99,6:F2} ms | " +
                        $"Stratus {stratus.Rps,8:F0} req/s p50 {stratus.P50,6:F2} ms p99 {stratus.P99,6:F2} ms");
                    ratios.Add((stratus.Rps / reference.Rps, stratus.P50 / reference.P50, stratus.P99 / reference.P99));
                }
                Console.WriteLine($"    median ratios (Stratus / FastAPI): throughput {Median(ratios.Select(r => r.Throughput)):F2} (aim >= 5), " +
                    $"p50 {Median(ratios.Select(r => r.P50)):F2}, p99 {Median(ratios.Select(r => r.P99)):F2}");
            }
        }
        finally
        {
            python.Kill(entireProcessTree: true);
            await python.WaitForExitAsync();
        }
    }

    private static string Versions()
    {
        var info = System.Diagnostics.Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", "import fastapi, uvicorn, xgboost, sklearn; print(fastapi.__version__, uvicorn.__version__, xgboost.__version__, sklearn.__version__)"])
        {
            RedirectStandardOutput = true,
        })!;
        var versions = info.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.TrimEntries);
        info.WaitForExit();
        return versions.Length == 4 ? $"{versions[0]} / uvicorn {versions[1]} / XGBoost {versions[2]} / scikit-learn {versions[3]}" : "(versions unknown)";
    }

    private static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        }
        throw new FileNotFoundException($"{relative} not found above {Environment.CurrentDirectory}");
    }

    public static async Task RunAsync(StratusClient client, string work, string stratusUrl, string token, int requests, IReadOnlyList<int> concurrencies)
    {
        await DeployAsync(client, work);

        // The reference: the same package, loaded the same way, behind one bare minimal-API route.
        var packageFile = Path.Combine(work, "package.zip");
        await client.Models.DownloadAsync("bench-serve-model", packageFile);
        ModelPackage package;
        await using (var stream = File.OpenRead(packageFile)) package = ModelPackage.Load(stream);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var bare = builder.Build();
        bare.MapPost("/predict", async (HttpContext context) =>
        {
            var request = await JsonSerializer.DeserializeAsync(context.Request.Body, StratusJsonContext.Default.PredictRequest);
            var predictions = package.Predict([.. request!.Instances]);
            await context.Response.WriteAsJsonAsync(new PredictResponse(predictions, new ModelVersionRef("bench", 1), context.TraceIdentifier), StratusJsonContext.Default.PredictResponse);
        });
        await bare.StartAsync();
        var bareUrl = bare.Urls.First();

        Console.WriteLine($"serve: LightGBM 100 trees, one row per request, {requests:N0} requests per run, bare and Stratus alternating {Rounds} times");
        foreach (var concurrency in concurrencies)
        {
            // Alternating rounds, each ratio from two runs side by side in time: the machine's load drifts between
            // runs by more than the difference measured (the bare route alone ranged 9,000-25,000 req/s).
            var ratios = new List<(double Throughput, double P50, double P99)>();
            for (var round = 0; round < Rounds; round++)
            {
                var reference = await Load($"{bareUrl}/predict", null, Row, concurrency, requests);
                var stratus = await Load($"{stratusUrl}/api/v1/endpoints/bench/predict", token, Row, concurrency, requests);
                Console.WriteLine($"  concurrency {concurrency,2}: bare {reference.Rps,8:F0} req/s p50 {reference.P50,6:F2} ms p99 {reference.P99,6:F2} ms | " +
                    $"Stratus {stratus.Rps,8:F0} req/s p50 {stratus.P50,6:F2} ms p99 {stratus.P99,6:F2} ms");
                ratios.Add((stratus.Rps / reference.Rps, stratus.P50 / reference.P50, stratus.P99 / reference.P99));
            }
            Console.WriteLine($"    median ratios: throughput {Median(ratios.Select(r => r.Throughput)):F2} (aim >= 0.80), " +
                $"p50 {Median(ratios.Select(r => r.P50)):F2} (aim <= 1.30), p99 {Median(ratios.Select(r => r.P99)):F2}");
        }
        await bare.StopAsync();
    }

    private const int Rounds = 3;

    /// <summary>The middle of the rounds' ratios.</summary>
    private static double Median(IEnumerable<double> values) => values.Order().ElementAt(Rounds / 2);

    /// <summary>
    /// Adaptive micro-batching on vs off on the same model at concurrency 64: a dense network (32 inputs, two hidden
    /// layers of 2,048, ONNX) whose model call dominates a request, as BentoML's adaptive batching targets.
    /// </summary>
    public static async Task RunBatchingAsync(StratusClient client, string stratusUrl, string token, int requests, int concurrency)
    {
        var (onnx, _) = Stratus.Testing.OnnxGraph.Mlp(1, 32, 2048, 2048, 2);
        await client.Models.ImportAsync("bench-mlp", new MemoryStream(onnx), "mlp.onnx", new OnnxSignature(Scores: "logits"));
        var limits = new EndpointLimits(concurrency, 10_000);
        foreach (var name in new[] { "mlp-single", "mlp-batched" })
        {
            await client.Endpoints.DeployAsync(name, "bench-mlp");
            await client.Endpoints.SetLimitsAsync(name, limits);
        }
        var batching = await client.Endpoints.SetBatchingAsync("mlp-batched", new EndpointBatching(true, 64, 5));
        var random = new Random(2);
        var row = "{\"instances\": [{" + string.Join(", ", Enumerable.Range(0, 32).Select(j => $"\"x_{j}\": {random.NextDouble().ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}")) + "}]}";

        Console.WriteLine($"serve batching: ONNX MLP 32-2048-2048-2, one row per request, concurrency {concurrency}, {requests:N0} requests per run, " +
            $"batching off then on (max {batching.Batching.MaxBatchRows} rows, {batching.Batching.MaxDelayMs} ms) alternating {Rounds} times");
        var ratios = new List<(double Throughput, double P99)>();
        for (var round = 0; round < Rounds; round++)
        {
            var off = await Load($"{stratusUrl}/api/v1/endpoints/mlp-single/predict", token, row, concurrency, requests);
            var on = await Load($"{stratusUrl}/api/v1/endpoints/mlp-batched/predict", token, row, concurrency, requests);
            Console.WriteLine($"  off {off.Rps,8:F0} req/s p50 {off.P50,6:F2} ms p99 {off.P99,6:F2} ms | on {on.Rps,8:F0} req/s p50 {on.P50,6:F2} ms p99 {on.P99,6:F2} ms");
            ratios.Add((on.Rps / off.Rps, on.P99 / off.P99));
        }
        var metrics = await new HttpClient { DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) } }.GetStringAsync($"{stratusUrl}/metrics");
        static long Series(string text, string name) => text.Split('\n').Where(l => l.StartsWith(name + "{endpoint=\"mlp-batched\"", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        var batches = Series(metrics, "stratus_endpoint_batches_total");
        Console.WriteLine($"    rows per model call with batching: {(double)Series(metrics, "stratus_endpoint_batch_rows_total") / Math.Max(1, batches):F1} over {batches:N0} calls");
        Console.WriteLine($"    median ratios (on / off): throughput {Median(ratios.Select(r => r.Throughput)):F2} (aim >= 2), p99 {Median(ratios.Select(r => r.P99)):F2} (aim <= 1.5)");
    }

    /// <summary>
    /// What monitoring costs the request path: the 100-tree LightGBM behind two endpoints, one capturing every request
    /// for monitoring (sample rate 1, the most there is) with, when <c>checkSeconds</c> is above 0, a policy checking
    /// drift that often while it is measured; one with neither; alternating rounds at concurrency 16.
    /// </summary>
    public static async Task RunCaptureAsync(StratusClient client, string work, string stratusUrl, string token, int requests, int checkSeconds)
    {
        await DeployAsync(client, work);
        await client.Endpoints.DeployAsync("bench-captured", "bench-serve-model");
        await client.Endpoints.SetCaptureAsync("bench-captured", 1);
        Console.WriteLine($"serve capture: LightGBM 100 trees, one row per request, concurrency 16, {requests:N0} requests per run, capture off then every request captured" +
            (checkSeconds > 0 ? $" with a policy checking the last minute's drift every {checkSeconds} s" : "") + $", alternating {Rounds} times");
        // Both warmed first, twice over: a cold first round measured the JIT and the thread pool's growth, not the capture.
        for (var warm = 0; warm < 2; warm++)
        {
            await Load($"{stratusUrl}/api/v1/endpoints/bench/predict", token, Row, 16, requests);
            await Load($"{stratusUrl}/api/v1/endpoints/bench-captured/predict", token, Row, 16, requests);
        }
        var ratios = new List<(double Throughput, double P99)>();
        for (var round = 0; round < Rounds; round++)
        {
            var off = await Load($"{stratusUrl}/api/v1/endpoints/bench/predict", token, Row, 16, requests);
            // Monitoring on only while the captured endpoint is measured: the drift checks compete for the same cores.
            if (checkSeconds > 0) await client.Monitoring.SetPolicyAsync("bench-captured", new MonitorPolicy(Drift: "drift", Schedule: $"*/{checkSeconds} * * * * *", WindowMinutes: 1));
            var on = await Load($"{stratusUrl}/api/v1/endpoints/bench-captured/predict", token, Row, 16, requests);
            if (checkSeconds > 0) await client.Monitoring.DeletePolicyAsync("bench-captured");
            Console.WriteLine($"  off {off.Rps,8:F0} req/s p50 {off.P50,6:F2} ms p99 {off.P99,6:F2} ms | captured {on.Rps,8:F0} req/s p50 {on.P50,6:F2} ms p99 {on.P99,6:F2} ms");
            ratios.Add((on.Rps / off.Rps, on.P99 / off.P99));
        }
        var metrics = await new HttpClient { DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) } }.GetStringAsync($"{stratusUrl}/metrics");
        var captured = metrics.Split('\n').First(l => l.StartsWith("stratus_capture_rows_total ", StringComparison.Ordinal));
        var dropped = metrics.Split('\n').First(l => l.StartsWith("stratus_capture_dropped_total ", StringComparison.Ordinal));
        var checks = checkSeconds > 0 ? await client.Monitoring.DecisionsAsync("bench-captured", 1000) : [];
        Console.WriteLine($"    {captured}, {dropped}; {checks.Count} policy drift checks ran while the captured endpoint was measured ({checks.Count(c => c.Status != "error")} without error)");
        Console.WriteLine($"    median ratios (captured / off): throughput {Median(ratios.Select(r => r.Throughput)):F2} (aim >= 0.95), p99 {Median(ratios.Select(r => r.P99)):F2}");
    }

    /// <summary>
    /// Scale to zero and wake-up: endpoints with a minimum of 0 replicas and 1 s of idle time, the 100-tree LightGBM and
    /// an ONNX network of 4.2 M weights. Each round lets the endpoint scale to zero (its model unloaded), then times the
    /// request that wakes it against warm requests just after, and reads this process's memory (the server runs in it)
    /// with the model loaded and unloaded.
    /// </summary>
    public static async Task RunColdStartAsync(StratusClient client, string work, string stratusUrl, string token, int rounds)
    {
        await DeployAsync(client, work);
        var (onnx, _) = Stratus.Testing.OnnxGraph.Mlp(1, 32, 2048, 2048, 2);
        await client.Models.ImportAsync("bench-mlp", new MemoryStream(onnx), "mlp.onnx", new OnnxSignature(Scores: "logits"));
        await client.Endpoints.DeployAsync("mlp", "bench-mlp");
        var mlpRow = "{\"instances\": [{" + string.Join(", ", Enumerable.Range(0, 32).Select(j => $"\"x_{j}\": 0.5")) + "}]}";
        using var http = new HttpClient { BaseAddress = new Uri(stratusUrl), DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
        async Task<double> TimeAsync(string endpoint, string body)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync($"api/v1/endpoints/{endpoint}/predict", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
            return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        static long Memory()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            return Process.GetCurrentProcess().WorkingSet64;
        }
        Console.WriteLine($"serve cold start: min 0 replicas, 1 s idle; per round the endpoint scales to zero, then the waking request vs the median of 20 warm ones; {rounds} rounds");
        foreach (var (endpoint, body, what) in new[] { ("bench", Row, "LightGBM 100 trees"), ("mlp", mlpRow, "ONNX MLP 32-2048-2048-2") })
        {
            await client.Endpoints.SetScalingAsync(endpoint, 0, 2, 1);
            var colds = new List<double>();
            var warms = new List<double>();
            long loaded = 0, unloaded = 0;
            for (var round = 0; round < rounds; round++)
            {
                while ((await client.Endpoints.GetAsync(endpoint)).Replicas > 0) await Task.Delay(100);
                unloaded = Memory();
                colds.Add(await TimeAsync(endpoint, body));
                var warm = new List<double>();
                for (var i = 0; i < 20; i++) warm.Add(await TimeAsync(endpoint, body));
                warms.Add(warm.Order().ElementAt(10));
                loaded = Memory();
            }
            var cold = colds.Order().ElementAt(rounds / 2);
            var warmMedian = warms.Order().ElementAt(rounds / 2);
            Console.WriteLine($"  {what}: cold {cold,7:F1} ms (min {colds.Min():F1}, max {colds.Max():F1}) | warm {warmMedian,5:F2} ms | ratio {cold / warmMedian:F0}x; " +
                $"working set {loaded / 1e6:F0} MB loaded, {unloaded / 1e6:F0} MB scaled to zero");
        }
    }

    /// <summary>
    /// A soak: the peak throughput at concurrency 16, then <paramref name="minutes"/> minutes at 80% of it (requests
    /// paced by a schedule, not as fast as possible), printing per minute the rate achieved, errors, p99 and the
    /// server's memory (this process: the server runs in it), so that leaks and drift show.
    /// </summary>
    public static async Task RunSoakAsync(StratusClient client, string work, string stratusUrl, string token, int minutes)
    {
        await DeployAsync(client, work);
        var url = $"{stratusUrl}/api/v1/endpoints/bench/predict";
        var peak = (await Load(url, token, Row, 16, 20_000)).Rps;
        var rate = peak * 0.8;
        Console.WriteLine($"soak: peak {peak:F0} req/s at concurrency 16; {minutes} min at {rate:F0} req/s (80%), LightGBM 100 trees, one row per request");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var started = Stopwatch.GetTimestamp();
        long sent = 0, errors = 0;
        var heap = new List<double>();
        for (var minute = 1; minute <= minutes; minute++)
        {
            var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
            long minuteErrors = 0, minuteSent = 0;
            var end = started + (long)(minute * 60 * Stopwatch.Frequency);
            await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
            {
                while (true)
                {
                    // Request n is due at n / rate seconds: an open schedule, so a slow answer does not lower the load.
                    var n = Interlocked.Increment(ref sent);
                    var due = started + (long)(n / rate * Stopwatch.Frequency);
                    if (due >= end)
                    {
                        Interlocked.Decrement(ref sent); // not sent: the next minute takes it
                        return;
                    }
                    var wait = due - Stopwatch.GetTimestamp();
                    if (wait > 0) await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
                    var t = Stopwatch.GetTimestamp();
                    try
                    {
                        using var content = new StringContent(Row, System.Text.Encoding.UTF8, "application/json");
                        using var response = await http.PostAsync(url, content);
                        await response.Content.ReadAsByteArrayAsync();
                        if (!response.IsSuccessStatusCode) Interlocked.Increment(ref minuteErrors);
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref minuteErrors);
                    }
                    Interlocked.Increment(ref minuteSent);
                    latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                }
            }));
            errors += minuteErrors;
            GC.Collect();
            var memory = GC.GetTotalMemory(forceFullCollection: true) / 1e6;
            heap.Add(memory);
            var sorted = latencies.Order().ToArray();
            Console.WriteLine($"  minute {minute,2}: {minuteSent / 60.0,7:F0} req/s, errors {minuteErrors}, p50 {sorted[sorted.Length / 2]:F2} ms, p99 {sorted[(int)(sorted.Length * 0.99)]:F2} ms, " +
                $"managed heap {memory:F1} MB, working set {Environment.WorkingSet / 1e6:F0} MB");
        }
        var later = heap.Skip(heap.Count / 2).ToList();
        Console.WriteLine($"    errors in all: {errors}; managed heap over the second half {later.Min():F1}-{later.Max():F1} MB (first minute {heap[0]:F1} MB)");
    }

    internal static async Task<(double Rps, double P50, double P99)> Load(string url, string? token, string body, int concurrency, int requests)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 });
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        async Task<double> One()
        {
            var started = Stopwatch.GetTimestamp();
            using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(url, content);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
            return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        var latencies = new double[requests];
        async Task<TimeSpan> Run(int count)
        {
            var next = -1;
            var stopwatch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count) latencies[i] = await One();
            }));
            return stopwatch.Elapsed;
        }
        // Warm-up at the same concurrency, long enough for the JIT's optimized tier (a few hundred requests leave
        // the larger pipeline in unoptimized code and flatter the bare route).
        await Run(Math.Min(requests, 5000));
        var elapsed = await Run(requests);
        Array.Sort(latencies);
        return (requests / elapsed.TotalSeconds, latencies[requests / 2], latencies[(int)(requests * 0.99)]);
    }
}
