using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Cli.Tests;

/// <summary>Several real processes on one PostgreSQL database and one blob store: servers that serve, workers that run jobs.</summary>
public sealed partial class ClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("stratus-cluster-").FullName;
    private Dictionary<string, string> _settings = null!;
    private string? _database;

    private string Home(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    public async ValueTask InitializeAsync()
    {
        var cluster = await PostgresCluster.Shared.Value;
        _database = await cluster.CreateDatabaseAsync();
        _settings = new Dictionary<string, string>
        {
            ["STRATUS_DATABASE"] = "postgres",
            ["STRATUS_CONNECTIONSTRING"] = _database,
            // A folder every node uses, as a shared file system would be.
            ["STRATUS_STORE"] = Path.Combine(_root, "store"),
            ["STRATUS_S3ENDPOINT"] = "",
            // Every node the same key-encryption keys, as a shared folder would give them.
            ["STRATUS_KEYFILE"] = Path.Combine(_root, "master.keys"),
            ["STRATUS_JOBLEASE"] = "00:00:03",
            ["STRATUS_JOBPOLLINTERVAL"] = "00:00:00.500",
        };
    }

    public async ValueTask DisposeAsync()
    {
        await TestDatabase.DropAsync(_database);
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex(@"running in job process (?<host>[^/\s]+)/(?<pid>\d+)")]
    private static partial Regex ProcessLine();

    /// <summary>Whether a process runs (a zombie, dead but not yet reaped, does not).</summary>
    private static bool Alive(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return false;
        try
        {
            var text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static MemoryStream Data(int rows)
    {
        var random = new Random(7);
        var csv = new StringBuilder("amount,category,hour,fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var fraud = random.NextDouble() < 0.25;
            csv.Append(CultureInfo.InvariantCulture, $"{(fraud ? 300 : 60) + (random.NextDouble() * 200):F2},{(random.NextDouble() < (fraud ? 0.7 : 0.2) ? "online" : "grocery")},{random.Next(24)},{(fraud ? 1 : 0)}\n");
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
    }

    [Fact]
    public async Task Should_finish_a_search_whose_worker_is_killed_on_another_worker_and_register_it_once()
    {
        // A server that only serves (no worker slots), and a worker that runs jobs.
        var (server, client) = await ServingOnlyServerAsync();
        await using var serving = server;
        await using var first = await WorkerAsync("worker-1");

        await client.Datasets.UploadAsync("cluster", Data(1500));
        var job = await client.Jobs.AutoMlAsync(new AutoMlRequest("cluster", "fraud", 20, Register: "cluster"));
        int pid;
        using (var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            while (true)
            {
                var log = await client.Jobs.LogAsync(job.Id);
                if (limit.IsCancellationRequested)
                {
                    Assert.Fail($"no two trials in 2 minutes, the job {(await client.Jobs.GetAsync(job.Id)).Status}; its log:\n" + string.Join("\n", log.Select(l => l.Line)));
                }
                if (log.Count(l => l.Line.StartsWith("trial ", StringComparison.Ordinal)) >= 2)
                {
                    pid = int.Parse(log.Select(l => ProcessLine().Match(l.Line)).First(m => m.Success).Groups["pid"].Value, CultureInfo.InvariantCulture);
                    break;
                }
                await Task.Delay(200);
            }
        }
        // The worker holds the job's process; the server runs none.
        Assert.NotEqual(server.Pid, pid);

        // kill -9 of the worker in the middle of the search; a second worker comes up.
        await first.KillAloneAsync();
        var killed = Stopwatch.StartNew();
        await using var second = await WorkerAsync("worker-2");
        TimeSpan? resumed = null;
        var done = await client.Jobs.WaitAsync(job.Id, line =>
        {
            if (resumed is null && ProcessLine().Match(line.Line) is { Success: true } m && m.Groups["pid"].Value != pid.ToString(CultureInfo.InvariantCulture)) resumed = killed.Elapsed;
        }, ct: new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);
        output.WriteLine($"kill -9 of the worker to the job running again: {resumed?.TotalSeconds:F1} s (lease 3 s)");

        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(2, done.Attempts);
        var lines = await client.Jobs.LogAsync(job.Id);
        // Queued again when its lease ran out, or at once when the new worker found the dead one's process gone on this machine.
        Assert.Contains(lines, l => l.Line.Contains("queued again", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Line.StartsWith("resuming", StringComparison.Ordinal));
        Assert.Single((await client.Models.ListVersionsAsync("cluster")).Items);
        // The orphaned job process of the killed worker ended by itself, writing nothing.
        for (var i = 0; i < 100 && Alive(pid); i++) await Task.Delay(100);
        Assert.False(Alive(pid));
        // No run of the job is left RUNNING.
        Assert.DoesNotContain((await client.Runs.ListAsync("cluster")).Items, r => r.Status == RunStatus.Running);
    }

    [Fact]
    public async Task Should_resume_a_batch_job_whose_worker_is_killed_on_another_worker_from_the_parts_it_scored()
    {
        var (server, client) = await ServingOnlyServerAsync();
        await using var serving = server;
        await using var first = await WorkerAsync("worker-1");
        await client.Datasets.UploadAsync("cluster", Data(800));
        await TrainAsync(client, 20);
        await client.Datasets.UploadAsync("big", Data(400_000));

        var job = await client.Jobs.BatchAsync(new BatchRequest("fraud:1", "big", "scored"));
        using (var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            // Killed once a fifth of the rows are scored (and their parts kept in the store).
            while (!(await client.Jobs.LogAsync(job.Id, ct: limit.Token)).Any(l => l.Line.Contains("rows (20%)", StringComparison.Ordinal) || l.Line.Contains("rows (30%)", StringComparison.Ordinal)))
                await Task.Delay(100, limit.Token);
        }
        await first.KillAloneAsync();
        await using var second = await WorkerAsync("worker-2");
        var done = await client.Jobs.WaitAsync(job.Id, ct: new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);

        Assert.True(done.Status == JobStatus.Succeeded, done.Error);
        Assert.Equal(2, done.Attempts);
        var lines = (await client.Jobs.LogAsync(job.Id)).Select(l => l.Line).ToList();
        Assert.True(lines.Count(l => l.Contains("chunks scored before", StringComparison.Ordinal)) == 1, string.Join('\n', lines));
        var resuming = lines.Single(l => l.Contains("chunks scored before", StringComparison.Ordinal));
        var parts = int.Parse(Regex.Match(resuming, @"resuming after (\d+) chunks").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(parts, 2, 39); // of 40: what the killed worker finished, not scored again
        var output = await client.Datasets.GetAsync("scored");
        Assert.Equal(400_000, output.Rows);
        Assert.Contains(output.Columns, c => c.Name == "fraud_predicted");
    }

    [Fact]
    public async Task Should_finish_a_training_whose_worker_is_killed_on_another_worker_and_register_it_once()
    {
        var (server, client) = await ServingOnlyServerAsync();
        await using var serving = server;
        await using var first = await WorkerAsync("worker-1");
        await client.Datasets.UploadAsync("cluster", Data(15_000));
        var job = await client.Jobs.TrainAsync(new TrainRequest("cluster", "fraud", Register: "trained", Iterations: 300));
        var running = job;
        using (var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            while (running.RunId is null)
            {
                await Task.Delay(50, limit.Token);
                running = await client.Jobs.GetAsync(job.Id, limit.Token);
            }
        }
        await first.KillAloneAsync(); // mid-training: its run exists, its model does not yet
        await using var second = await WorkerAsync("worker-2");
        var done = await client.Jobs.WaitAsync(job.Id, ct: new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);

        Assert.True(done.Status == JobStatus.Succeeded, done.Error);
        Assert.Equal(2, done.Attempts);
        Assert.NotEqual(running.RunId, done.Result!.RunId);
        Assert.Equal(new ModelVersionRef("trained", 1), done.Result.Model);
        Assert.Single((await client.Models.ListVersionsAsync("trained")).Items);
        Assert.NotEqual(RunStatus.Running, (await client.Runs.GetAsync(running.RunId!)).Status);
    }

    /// <summary>A server that only serves (no worker slots), and a client of its admin.</summary>
    private async Task<(ServerProcess Server, StratusClient Client)> ServingOnlyServerAsync()
    {
        var home = Home("server");
        var server = await ServerProcess.StartAsync(home, null, "server", new Dictionary<string, string>(_settings) { ["STRATUS_WORKERSLOTS"] = "0" });
        return (server, StratusClient.Create(server.Url, (await File.ReadAllTextAsync(Path.Combine(home, "admin.token"))).Trim()));
    }

    /// <summary>A worker with one slot.</summary>
    private Task<ServerProcess> WorkerAsync(string name) =>
        ServerProcess.StartWorkerAsync(Home(name), new Dictionary<string, string>(_settings) { ["STRATUS_WORKERSLOTS"] = "1" });

    private static PredictRequest Row(double amount) => new([new Dictionary<string, JsonElement>
    {
        ["amount"] = JsonSerializer.SerializeToElement(amount),
        ["category"] = JsonSerializer.SerializeToElement("online"),
        ["hour"] = JsonSerializer.SerializeToElement(3),
    }]);

    /// <summary>The settings of one server of an Orleans cluster on this database: membership and reminders in PostgreSQL, silos on loopback.</summary>
    private Dictionary<string, string> ClusterNode() => new(_settings)
    {
        ["STRATUS_CLUSTER"] = "test",
        ["STRATUS_ADVERTISEADDRESS"] = "127.0.0.1",
        ["STRATUS_REMINDERPERIOD"] = "00:00:03",
        ["STRATUS_PROBETIMEOUT"] = "00:00:01",
        ["STRATUS_WORKERSLOTS"] = "1",
    };

    /// <summary>Silos of the cluster in an Orleans status (3 active, 6 dead), as its membership table has them.</summary>
    private async Task<long> SilosAsync(int status)
    {
        await using var connection = new Npgsql.NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM orleans_membership WHERE deployment_id = 'test' AND status = @status", connection);
        command.Parameters.AddWithValue("status", status);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<JobInfo> TrainAsync(StratusClient client, int iterations)
    {
        var job = await client.Jobs.TrainAsync(new TrainRequest("cluster", "fraud", Register: "fraud", Iterations: iterations));
        var done = await client.Jobs.WaitAsync(job.Id, _ => { }, ct: new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);
        Assert.True(done.Status == JobStatus.Succeeded, $"job {done.Id}: {done.Status} {done.Error}");
        return done;
    }

    [Fact]
    public async Task Should_serve_every_endpoint_from_every_server_sum_their_traffic_and_go_on_when_a_server_is_killed()
    {
        // Two servers of one cluster, each with a worker slot.
        var homeA = Home("server-a");
        await using var a = await ServerProcess.StartAsync(homeA, null, "server", ClusterNode());
        await using var b = await ServerProcess.StartAsync(Home("server-b"), null, "server", ClusterNode());
        var token = (await File.ReadAllTextAsync(Path.Combine(homeA, "admin.token"))).Trim();
        var clientA = StratusClient.Create(a.Url, token);
        var clientB = StratusClient.Create(b.Url, token);

        // Both are in the cluster and on the nodes page of either.
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while ((await clientB.NodesAsync(limit.Token)).Count(n => n is { Role: "server", Status: "up" } && n.Silo is not null) < 2) await Task.Delay(250, limit.Token);
        }

        // One Orleans cluster: both silos active in its membership table.
        Assert.Equal(2, await SilosAsync(3));

        // A model trained and deployed through A answers through B (loaded from the shared store).
        await clientA.Datasets.UploadAsync("cluster", Data(800));
        await TrainAsync(clientA, 30);
        await clientA.Endpoints.DeployAsync("fraud", "fraud:1");
        Assert.Equal(1, (await clientB.Endpoints.PredictAsync("fraud", Row(400))).Model.Version);

        // Traffic answered by B shows in the traffic history A reports: the counters of every node are summed.
        for (var i = 0; i < 40; i++) await clientB.Endpoints.PredictAsync("fraud", Row(50 + i));
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while ((await clientA.Endpoints.TrafficAsync("fraud", limit.Token)).Sum(p => p.Requests) < 41) await Task.Delay(250, limit.Token);
        }

        // A second version rolls out in steps judged on both nodes' requests. Requests go to B throughout, and A is
        // killed (kill -9) in the middle: B answers every one, and the rollout completes.
        await TrainAsync(clientA, 40);
        var load = new CancellationTokenSource();
        var failures = new List<string>();
        var answered = 0;
        var versions = new HashSet<int>();
        var traffic = Task.Run(async () =>
        {
            while (!load.IsCancellationRequested)
            {
                try
                {
                    var answer = await clientB.Endpoints.PredictAsync("fraud", Row(120));
                    lock (versions) versions.Add(answer.Model.Version);
                    Interlocked.Increment(ref answered);
                }
                catch (Exception ex) when (ex is StratusApiException or HttpRequestException)
                {
                    lock (failures) failures.Add(ex.Message);
                }
                await Task.Delay(20);
            }
        });
        await clientA.Endpoints.RolloutAsync("fraud", new RolloutRequest("fraud:2", Canary: 20, Step: 40, IntervalSeconds: 2, MaxErrorRate: 0.5, MinRequests: 5));
        await Task.Delay(3000);
        await a.KillHardAsync();
        var killed = Stopwatch.StartNew();

        // A job queued after the kill starts on the survivor.
        var job = await TrainAsync(clientB, 20);
        Assert.Equal(3, job.Result?.Model?.Version);

        RolloutInfo rollout;
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            while ((rollout = await clientB.Endpoints.GetRolloutAsync("fraud", limit.Token)).Status == "running") await Task.Delay(500, limit.Token);
        }
        output.WriteLine($"rollout {rollout.Status} {killed.Elapsed.TotalSeconds:F1} s after kill -9 of a server: {rollout.Reason}");
        await load.CancelAsync();
        await traffic;
        Assert.Equal("completed", rollout.Status);
        Assert.Empty(failures);
        Assert.True(answered > 50, $"{answered} requests answered");
        Assert.Contains(2, versions);
        Assert.Equal(2, (await clientB.Endpoints.PredictAsync("fraud", Row(80))).Model.Version);

        // Orleans declared the killed silo dead; the killed server shows as lost, the survivor as up.
        Assert.Equal(1, await SilosAsync(3));
        Assert.Equal(1, await SilosAsync(6));
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!(await clientB.NodesAsync(limit.Token)).Any(n => n.Id.EndsWith($"/{a.Pid}", StringComparison.Ordinal) && n.Status == "lost")) await Task.Delay(500, limit.Token);
        }
        Assert.Contains(await clientB.NodesAsync(), n => n.Id.EndsWith($"/{b.Pid}", StringComparison.Ordinal) && n.Status == "up" && n.EndpointsLoaded == 1);

        // The server comes back: a new silo joins the cluster and serves the endpoint as it now stands.
        await using var back = await ServerProcess.StartAsync(homeA, null, "server", ClusterNode());
        Assert.Equal(2, await SilosAsync(3));
        Assert.Equal(2, (await StratusClient.Create(back.Url, token).Endpoints.PredictAsync("fraud", Row(80))).Model.Version);
    }
}
