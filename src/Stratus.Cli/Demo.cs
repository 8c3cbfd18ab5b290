using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Stratus.Client;

namespace Stratus.Cli;

/// <summary>
/// <c>stratus up --demo</c>: loads a card-fraud dataset, trains and registers a model, deploys it, and prints a
/// curl command that works as printed. It drives the running server through the SDK, like any user would.
/// </summary>
internal static class Demo
{
    public const string Dataset = "card-transactions";
    public const string Model = "fraud-detector";
    public const string Endpoint = "fraud";

    public static async Task RunAsync(string url, string dataDir, string? fingerprint, CancellationToken ct)
    {
        var token = (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin.token"), ct)).Trim();
        var client = StratusClient.Create(url, token, fingerprint: fingerprint);
        var csv = Path.Combine(dataDir, "tmp", "demo-card-transactions.csv");
        await File.WriteAllTextAsync(csv, Transactions(20_000, seed: 2026), ct);
        try
        {
            var data = await client.Datasets.UploadAsync(Dataset, csv, ct: ct);
            AnsiConsole.MarkupLine($"[green]demo[/] dataset {Dataset}:{data.Version}: {data.Rows:N0} card transactions, {data.Columns.Count} columns");
        }
        finally
        {
            File.Delete(csv);
        }

        var deployed = await TryGetEndpointAsync(client, ct);
        if (deployed is null)
        {
            var job = await client.Jobs.TrainAsync(new TrainRequest(Dataset, "fraud", Register: Model, Experiment: "fraud-demo"), ct);
            var done = await client.Jobs.WaitAsync(job.Id, line => AnsiConsole.MarkupLine($"[green]demo[/] {Markup.Escape(line.Line)}"), ct: ct);
            if (done.Status != JobStatus.Succeeded) throw new InvalidOperationException($"the demo training job {done.Status.ToLowerInvariant()}: {done.Error}");
            await client.Models.SetAliasAsync(Model, "champion", done.Result!.Model!.Version, ct);
            deployed = await client.Endpoints.DeployAsync(Endpoint, $"{Model}@champion", ct);
        }
        await MonitorAsync(client, ct);
        AnsiConsole.MarkupLine($"[green]demo[/] endpoint [bold]{Endpoint}[/] serves {deployed.Model.Name}:{deployed.Model.Version}. Score a transaction:");
        Console.WriteLine(Curl(url, dataDir));
        AnsiConsole.MarkupLine($"[green]demo[/] see its monitoring, with plots: [bold]stratus monitor report {Endpoint}[/]");
        AnsiConsole.MarkupLine($"[green]demo[/] or in the web console: [bold]{url}/endpoints/{Endpoint}[/] (sign in with the token in {Markup.Escape(Path.Combine(dataDir, "admin.token"))})");
    }

    /// <summary>
    /// Captures the endpoint's requests, sends it an hour's worth of traffic in which prices rose halfway through,
    /// checks drift, and sets a policy that retrains with AutoML and promotes the challenger when drift returns.
    /// </summary>
    private static async Task MonitorAsync(StratusClient client, CancellationToken ct)
    {
        await client.Endpoints.SetCaptureAsync(Endpoint, 1, ct);
        var started = DateTimeOffset.UtcNow;
        var lines = Transactions(2_000, seed: 7).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select((line, i) =>
        {
            var cells = line.Split(',');
            return header.Select((name, c) => (name, cells[c])).Where(x => x.name != "fraud").ToDictionary(x => x.name, x =>
                x.name == "merchant_category" ? JsonSerializer.SerializeToElement(x.Item2)
                : JsonSerializer.SerializeToElement(double.Parse(x.Item2, CultureInfo.InvariantCulture) * (x.name == "amount" && i >= 1_000 ? 1.8 : 1)));
        }).ToList();
        foreach (var chunk in rows.Chunk(50)) await client.Endpoints.PredictAsync(Endpoint, new PredictRequest([.. chunk]), ct);
        await Task.Delay(TimeSpan.FromSeconds(2), ct); // captures reach their files about once a second
        var report = await client.Monitoring.CheckDriftAsync(Endpoint, new DriftCheckRequest(From: started, To: DateTimeOffset.UtcNow), ct);
        var drifted = report.Features.Where(f => f.Status == "drift").Select(f => $"{f.Column} (psi {f.Statistics.GetValueOrDefault("psi"):F2})").ToList();
        AnsiConsole.MarkupLine($"[green]demo[/] {report.Rows:N0} requests captured, prices up 80% in the second half; drift check: " +
            Markup.Escape(drifted.Count > 0 ? string.Join(", ", drifted) + " drifted" : report.Status));
        await client.Monitoring.SetPolicyAsync(Endpoint, new MonitorPolicy(Drift: "drift", Metric: "auc<0.8", Schedule: "0 3 * * *", Retrain: "automl:60s"), ct);
        AnsiConsole.MarkupLine($"[green]demo[/] policy set: checked daily at 03:00 UTC; on drift or decay, retrain with AutoML and promote if better ([bold]stratus monitor run {Endpoint}[/] runs it now)");
    }

    /// <summary>The command a newcomer pastes: it reads the token from the data directory rather than printing it again.</summary>
    public static string Curl(string url, string dataDir) =>
        $"curl -s -X POST {url}/api/v1/endpoints/{Endpoint}/predict " +
        (url.StartsWith("https://", StringComparison.Ordinal) ? $"--cacert '{Stratus.Server.Security.ServerCertificate.GeneratedPaths(dataDir).Pem}' " : "") +
        $"-H \"Authorization: Bearer $(cat '{Path.Combine(dataDir, "admin.token")}')\" -H 'Content-Type: application/json' " +
        "-d '{\"instances\": [{\"amount\": 1840.5, \"merchant_category\": \"electronics\", \"hour\": 3, \"distance_km\": 412.0, \"card_present\": 0, \"customer_age\": 34, \"transactions_last_24h\": 9}, " +
        "{\"amount\": 23.4, \"merchant_category\": \"grocery\", \"hour\": 18, \"distance_km\": 2.1, \"card_present\": 1, \"customer_age\": 51, \"transactions_last_24h\": 2}]}'";

    private static async Task<EndpointInfo?> TryGetEndpointAsync(StratusClient client, CancellationToken ct)
    {
        try
        {
            return await client.Endpoints.GetAsync(Endpoint, ct);
        }
        catch (StratusApiException ex) when (ex.Status == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Card transactions with the structure fraud teams see: log-normal amounts, merchant categories with different
    /// risk, night-time and card-not-present fraud, far-from-home distances, bursts of activity, about 2% fraud.
    /// The same seed always gives the same file.
    /// </summary>
    public static string Transactions(int rows, int seed)
    {
        var random = new Random(seed);
        (string Name, double Risk)[] categories =
            [("grocery", 0.3), ("fuel", 0.5), ("restaurant", 0.4), ("electronics", 3.0), ("travel", 2.0), ("online", 2.5), ("pharmacy", 0.4), ("jewelry", 3.5)];
        var csv = new StringBuilder("amount,merchant_category,hour,distance_km,card_present,customer_age,transactions_last_24h,fraud\n", rows * 60);
        for (var i = 0; i < rows; i++)
        {
            var (category, risk) = categories[random.Next(categories.Length)];
            var hour = random.Next(24);
            var cardPresent = random.NextDouble() < 0.7 ? 1 : 0;
            var age = 18 + random.Next(70);
            var burst = random.NextDouble() < 0.05;
            var perDay = burst ? 6 + random.Next(10) : 1 + random.Next(4);
            var distance = -Math.Log(1 - random.NextDouble()) * (random.NextDouble() < 0.1 ? 300 : 8);
            var amount = Math.Exp(3.2 + (random.NextDouble() * 1.6) - 0.8) * (category is "electronics" or "jewelry" or "travel" ? 4 : 1);
            // Fraud odds rise with risky merchants, night hours, missing card, distance, bursts and large amounts.
            var logit = -6.2 + Math.Log(risk) + (hour is < 6 ? 1.4 : 0) + (cardPresent == 0 ? 1.2 : 0) + (distance > 100 ? 1.6 : 0)
                + (burst ? 1.5 : 0) + (amount > 500 ? 1.0 : 0) + (age < 25 ? 0.4 : 0);
            var fraud = random.NextDouble() < 1 / (1 + Math.Exp(-logit));
            csv.Append(CultureInfo.InvariantCulture,
                $"{amount:F2},{category},{hour},{distance:F1},{cardPresent},{age},{perDay},{(fraud ? 1 : 0)}\n");
        }
        return csv.ToString();
    }
}
