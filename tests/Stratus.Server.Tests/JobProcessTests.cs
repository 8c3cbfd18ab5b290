using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Stratus.Client;
using Stratus.Server.Jobs;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>Jobs run in processes of their own: a crash, a cancel or a lost claim touches nothing else.</summary>
public sealed partial class JobProcessTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The test's token, cancelled after four minutes: a job that never ends fails the test instead of hanging it.</summary>
    private static CancellationToken Limit()
    {
        var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromMinutes(4));
        return limit.Token;
    }

    private static MemoryStream Data(int rows, int seed = 1)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("amount,category,hour,fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var fraud = random.NextDouble() < 0.25;
            csv.Append(CultureInfo.InvariantCulture, $"{(fraud ? 300 : 60) + (random.NextDouble() * 200):F2},{(random.NextDouble() < (fraud ? 0.7 : 0.2) ? "online" : "grocery")},{random.Next(24)},{(fraud ? 1 : 0)}\n");
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
    }

    [GeneratedRegex(@"running in job process (?<host>[^/\s]+)/(?<pid>\d+)")]
    private static partial Regex ProcessLine();

    private static async Task<int> ProcessOfAsync(StratusClient client, string jobId)
    {
        for (var i = 0; i < 600; i++)
        {
            foreach (var line in await client.Jobs.LogAsync(jobId, ct: Ct))
            {
                if (ProcessLine().Match(line.Line) is { Success: true } m) return int.Parse(m.Groups["pid"].Value, CultureInfo.InvariantCulture);
            }
            await Task.Delay(100, Ct);
        }
        throw new TimeoutException($"job {jobId} never reported its process");
    }

    private static async Task<int> TrialsAsync(StratusClient client)
    {
        try
        {
            return (await client.Runs.ListAsync("fenced", ct: Ct)).Items.Count(r => r.Tags.ContainsKey("trial"));
        }
        catch (StratusApiException ex) when (ex.Status == HttpStatusCode.NotFound)
        {
            return 0; // the search has not made its experiment yet
        }
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static PredictRequest Row(double a, double b) =>
        new([new Dictionary<string, JsonElement> { ["a"] = JsonSerializer.SerializeToElement(a), ["b"] = JsonSerializer.SerializeToElement(b) }]);

    private static async Task DeployNetAsync(StratusClient client)
    {
        var (onnx, _) = OnnxGraph.Mlp(3, 2, 8, 2);
        await client.Models.ImportAsync("net", new MemoryStream(onnx), "net.onnx",
            new OnnxSignature(Classes: ["no", "yes"], Inputs: [new OnnxInput("x", ["a", "b"])], Scores: "logits"), ct: Ct);
        await client.Endpoints.DeployAsync("net", "net:1", Ct);
    }

    [Fact]
    public async Task Should_train_in_a_job_process_of_its_own_never_in_the_server()
    {
        await using var server = await TestServer.StartAsync();
        var client = server.Client();
        await client.Datasets.UploadAsync("own", Data(300), ct: Ct);
        var job = await client.Jobs.TrainAsync(new TrainRequest("own", "fraud", Register: "own"), Ct);
        var pid = await ProcessOfAsync(client, job.Id);
        Assert.NotEqual(Environment.ProcessId, pid);
        Assert.Equal(JobStatus.Succeeded, (await client.Jobs.WaitAsync(job.Id, ct: Limit())).Status);
        Assert.Equal(1, (await client.Models.ResolveAsync("own:1", Ct)).Version);
        for (var i = 0; i < 50 && Alive(pid); i++) await Task.Delay(100, Ct);
        Assert.False(Alive(pid));
    }

    [Fact]
    public async Task Should_fail_only_the_job_whose_process_crashes_natively_while_an_endpoint_answers_throughout()
    {
        await using var server = await TestServer.StartAsync(o => o.Jobs.JobFaultForTests = "crash");
        var client = server.Client();
        await DeployNetAsync(client);
        await client.Datasets.UploadAsync("crashy", Data(300), ct: Ct);

        using var stop = new CancellationTokenSource();
        var (answered, failed) = (0, 0);
        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await client.Endpoints.PredictAsync("net", Row(0.5, 1.5), CancellationToken.None);
                    answered++;
                    await Task.Delay(10, CancellationToken.None);
                }
                catch (Exception ex) when (ex is StratusApiException or HttpRequestException)
                {
                    failed++;
                }
            }
        }, Ct);
        var job = await client.Jobs.TrainAsync(new TrainRequest("crashy", "fraud", Retries: 0), Ct);
        var done = await client.Jobs.WaitAsync(job.Id, ct: Limit());
        await Task.Delay(500, Ct);
        await stop.CancelAsync();
        await traffic;

        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Contains("SIGSEGV", done.Error, StringComparison.Ordinal);
        if (done.RunId is { } runId) Assert.Equal(RunStatus.Failed, (await client.Runs.GetAsync(runId, Ct)).Status);
        Assert.True(answered > 0);
        Assert.Equal(0, failed);
        // The server itself is fine: it answers and takes the next job.
        Assert.Equal(HttpStatusCode.OK, (await server.Http().GetAsync("health/ready", Ct)).StatusCode);
    }

    [Fact]
    public async Task Should_stop_a_running_search_soon_after_a_cancel_and_mark_its_run_killed()
    {
        await using var server = await TestServer.StartAsync();
        var client = server.Client();
        await client.Datasets.UploadAsync("long", Data(2000), ct: Ct);
        var job = await client.Jobs.AutoMlAsync(new AutoMlRequest("long", "fraud", 600), Ct);
        var pid = await ProcessOfAsync(client, job.Id);
        while ((await client.Jobs.GetAsync(job.Id, Ct)).RunId is null) await Task.Delay(100, Ct);

        var clock = Stopwatch.StartNew();
        await client.Jobs.CancelAsync(job.Id, Ct);
        var done = await client.Jobs.WaitAsync(job.Id, poll: TimeSpan.FromMilliseconds(100), ct: Limit());
        var ended = clock.Elapsed;
        while (Alive(pid) && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50, Ct);
        output.WriteLine($"cancel to CANCELLED: {ended.TotalSeconds:F2} s; to the process gone: {clock.Elapsed.TotalSeconds:F2} s");

        Assert.Equal(JobStatus.Cancelled, done.Status);
        Assert.False(Alive(pid));
        Assert.Equal(RunStatus.Killed, (await client.Runs.GetAsync(done.RunId!, Ct)).Status);
    }

    [Fact]
    public async Task Should_resume_a_job_whose_worker_lost_the_database_elsewhere_and_refuse_the_stale_claim()
    {
        // Two nodes on one PostgreSQL database; node A (and its job processes) reach it through a relay the test cuts.
        var cluster = await PostgresCluster.Shared.Value;
        var database = await cluster.CreateDatabaseAsync();
        await using var relay = new TcpRelay(cluster.Port);
        var viaRelay = new NpgsqlConnectionStringBuilder(database) { Port = relay.Port, Timeout = 3 }.ConnectionString;
        // One blob store for both: a folder, as on a shared file system.
        var shared = Directory.CreateTempSubdirectory("stratus-shared-").FullName;
        var bDir = Directory.CreateTempSubdirectory("stratus-node-b-").FullName;
        await using var a = await TestServer.StartAsync(o =>
        {
            (o.Storage.Database, o.Storage.ConnectionString) = ("postgres", viaRelay);
            (o.Storage.Store, o.Storage.S3Endpoint) = (Path.Combine(shared, "blobs"), null);
            o.Storage.KeyFile = Path.Combine(shared, "master.keys"); // every node the same keys
            o.Jobs.JobLease = TimeSpan.FromSeconds(2);
        });
        // Node B joins the same database: the first node made the admin token.
        File.Copy(Path.Combine(a.DataDir, "admin.token"), Path.Combine(bDir, "admin.token"));
        var client = a.Client();
        await client.Datasets.UploadAsync("fenced", Data(1500), ct: Ct);
        var job = await client.Jobs.AutoMlAsync(new AutoMlRequest("fenced", "fraud", 20, Register: "fenced", Parallel: 1), Ct);
        var first = await ProcessOfAsync(client, job.Id);
        // Some trials done before the cut: the resumed search starts from them.
        var limit = Limit();
        while (await TrialsAsync(client) < 2) await Task.Delay(200, limit);

        relay.Cut();
        await using var b = await TestServer.StartAsync(o =>
        {
            (o.Storage.Database, o.Storage.ConnectionString) = ("postgres", database);
            (o.Storage.Store, o.Storage.S3Endpoint) = (Path.Combine(shared, "blobs"), null);
            o.Storage.KeyFile = Path.Combine(shared, "master.keys"); // every node the same keys
            o.Jobs.JobLease = TimeSpan.FromSeconds(2);
            o.Jobs.JobPollInterval = TimeSpan.FromMilliseconds(500);
        }, bDir);
        var survivor = b.Client();
        int second;
        while (true)
        {
            var lines = await survivor.Jobs.LogAsync(job.Id, ct: Ct);
            var starts = lines.Select(l => ProcessLine().Match(l.Line)).Where(m => m.Success).Select(m => int.Parse(m.Groups["pid"].Value, CultureInfo.InvariantCulture)).ToList();
            if (starts.Count >= 2)
            {
                second = starts[^1];
                break;
            }
            await Task.Delay(200, limit);
        }
        Assert.NotEqual(first, second);
        var done = await survivor.Jobs.WaitAsync(job.Id, ct: Limit());
        relay.Restore();

        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(2, done.Attempts);
        // Queued again by the lease running out, or at once by node B's start when the cut-off process had already died.
        Assert.Contains(await survivor.Jobs.LogAsync(job.Id, ct: Ct), l => l.Line.Contains("queued again", StringComparison.Ordinal));
        Assert.Single((await survivor.Models.ListVersionsAsync("fenced", ct: Ct)).Items);
        // The first claim's process, back on the database, finds the job another claim's and ends without writing.
        for (var i = 0; i < 100 && Alive(first); i++) await Task.Delay(100, Ct);
        Assert.False(Alive(first));
        Assert.Equal(JobStatus.Succeeded, (await survivor.Jobs.GetAsync(job.Id, Ct)).Status);
        Assert.Single((await survivor.Models.ListVersionsAsync("fenced", ct: Ct)).Items);

        // And any result under the stale claim is refused outright.
        await using var scope = b.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        var epoch = await db.Jobs.Where(j => j.Id == job.Id).Select(j => j.Epoch).FirstAsync(Ct);
        await Assert.ThrowsAsync<JobFencedException>(() => new JobClaim(job.Id, epoch - 1, 1).EnsureCurrentAsync(db, Ct));
        Assert.False(await JobOutcome.WriteAsync(b.Services, TimeProvider.System, job.Id, epoch - 1, JobStatus.Failed, "late", null, transient: false));
        await TestDatabase.DropAsync(database);
        TestServer.TryDelete(shared);
        TestServer.TryDelete(bDir);
    }
}
