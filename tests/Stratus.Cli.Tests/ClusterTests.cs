using System.Diagnostics;
using System.Globalization;
using System.Text;
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
        var serverHome = Home("server");
        await using var server = await ServerProcess.StartAsync(serverHome, null, "server", new Dictionary<string, string>(_settings) { ["STRATUS_WORKERSLOTS"] = "0" });
        var client = StratusClient.Create(server.Url, (await File.ReadAllTextAsync(Path.Combine(serverHome, "admin.token"))).Trim());
        await using var first = await ServerProcess.StartWorkerAsync(Home("worker-1"), new Dictionary<string, string>(_settings) { ["STRATUS_WORKERSLOTS"] = "1" });

        await client.Datasets.UploadAsync("cluster", Data(1500));
        var job = await client.Jobs.AutoMlAsync(new AutoMlRequest("cluster", "fraud", 20, Register: "cluster"));
        int pid;
        using (var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            while (true)
            {
                var log = await client.Jobs.LogAsync(job.Id, ct: limit.Token);
                if (log.Count(l => l.Line.StartsWith("trial ", StringComparison.Ordinal)) >= 2)
                {
                    pid = int.Parse(log.Select(l => ProcessLine().Match(l.Line)).First(m => m.Success).Groups["pid"].Value, CultureInfo.InvariantCulture);
                    break;
                }
                await Task.Delay(200, limit.Token);
            }
        }
        // The worker holds the job's process; the server runs none.
        Assert.NotEqual(server.Pid, pid);

        // kill -9 of the worker in the middle of the search; a second worker comes up.
        await first.KillAloneAsync();
        var killed = Stopwatch.StartNew();
        await using var second = await ServerProcess.StartWorkerAsync(Home("worker-2"), new Dictionary<string, string>(_settings) { ["STRATUS_WORKERSLOTS"] = "1" });
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
}
