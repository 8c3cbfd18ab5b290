using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Stratus;
using Stratus.Client;
using Stratus.Testing;

/// <summary>
/// Failover of a server of a cluster: two <c>stratus server --cluster</c> processes on one PostgreSQL database and one
/// shared store folder, with their default membership and reminder settings. Each round starts a rollout that steps
/// every second, sends requests to both servers, kills -9 one of them (the two take turns) and measures, through the
/// survivor: how long until Orleans declares the dead silo (the membership table), how long the rollout's stepping
/// paused against its one-second period (long only when its grain was on the killed server), and the requests to the
/// survivor that failed (there should be none). The killed server is started again for the next round.
/// Then a soak with no kill, under as much load as the machine takes (AutoML jobs back to back in both servers' job
/// processes, predictions flooding both, a spinning thread per core in this process), counts the false alarms the short
/// timeouts could raise: silos declared dead, suspicion votes, and job claims taken over from a live process.
/// </summary>
internal static class ServerFailoverBenchmark
{
    public static async Task RunAsync(string work, int rounds, int soakSeconds)
    {
        var pg = await PostgresCluster.Shared.Value;
        var database = await pg.CreateDatabaseAsync();
        var settings = new Dictionary<string, string>
        {
            ["STRATUS_DATABASE"] = "postgres",
            ["STRATUS_CONNECTIONSTRING"] = database,
            ["STRATUS_STORE"] = Path.Combine(work, "shared-store"),
            ["STRATUS_CLUSTER"] = "bench",
            ["STRATUS_ADVERTISEADDRESS"] = "127.0.0.1",
            ["STRATUS_WORKERSLOTS"] = "1",
        };
        // One after the other: the first creates the schema and the admin token.
        var servers = new[] { StartServer(work, "a", settings), null! };
        try
        {
            var a = await servers[0].ReadyAsync();
            servers[1] = StartServer(work, "b", settings);
            var token = (await File.ReadAllTextAsync(Path.Combine(work, "a", "admin.token"))).Trim();
            var csv = Path.Combine(work, "failover.csv");
            BenchData.WriteTransactions(csv, 5_000);
            var client = StratusClient.Create(a, token);
            await client.Datasets.UploadAsync("failover", csv);
            foreach (var iterations in new[] { 30, 40 })
            {
                var job = await client.Jobs.TrainAsync(new TrainRequest("failover", "fraud", Register: "fo", Iterations: iterations, Exclude: ["id"]));
                var done = await client.Jobs.WaitAsync(job.Id);
                if (done.Status != JobStatus.Succeeded) throw new InvalidOperationException($"training failed: {done.Error}");
            }
            await client.Endpoints.DeployAsync("fo", "fo:1");
            var row = new PredictRequest([JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(
                """{"amount": 42.5, "merchant_category": "grocery", "hour": 13, "distance_km": 3.2, "card_present": 1, "customer_age": 40}""")!]);
            Console.WriteLine($"failover-server: kill -9 of one of two servers mid-rollout (probe timeout 2 s, reminders every 10 s: the defaults; {rounds} rounds)");

            var declared = new List<double>();
            var paused = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                var victim = round % 2;
                var survivor = StratusClient.Create(await servers[1 - victim].ReadyAsync(), token);
                var other = StratusClient.Create(await servers[victim].ReadyAsync(), token);
                // Started through the server about to be killed in odd rounds (the grain is then likely placed there: it
                // was in every round measured), through the survivor in even ones.
                var throughVictim = round % 2 == 0;
                await (throughVictim ? other : survivor).Endpoints.RolloutAsync("fo", new RolloutRequest("fo:2", Canary: 50, Step: 1, IntervalSeconds: 1, MaxErrorRate: 1, MinRequests: 1));
                using var load = new CancellationTokenSource();
                var failed = 0;
                var answered = 0;
                var traffic = Task.Run(async () =>
                {
                    while (!load.IsCancellationRequested)
                    {
                        try
                        {
                            await survivor.Endpoints.PredictAsync("fo", row);
                            Interlocked.Increment(ref answered);
                        }
                        catch (Exception ex) when (ex is StratusApiException or HttpRequestException)
                        {
                            Interlocked.Increment(ref failed);
                        }
                        try
                        {
                            await other.Endpoints.PredictAsync("fo", row);
                        }
                        catch (Exception ex) when (ex is StratusApiException or HttpRequestException or TaskCanceledException)
                        {
                            // the killed server: expected
                        }
                    }
                });
                // Steps observed through the survivor: the weight's changes over time.
                var steps = new List<double>();
                var clock = Stopwatch.StartNew();
                var last = -1;
                double killedAt = -1, deadAt = -1;
                while (clock.Elapsed < TimeSpan.FromSeconds(45))
                {
                    var rollout = await survivor.Endpoints.GetRolloutAsync("fo");
                    if (rollout.Weight != last)
                    {
                        steps.Add(clock.Elapsed.TotalSeconds);
                        last = rollout.Weight;
                    }
                    if (killedAt < 0 && clock.Elapsed > TimeSpan.FromSeconds(6))
                    {
                        servers[victim].Kill();
                        killedAt = clock.Elapsed.TotalSeconds;
                    }
                    if (killedAt >= 0 && deadAt < 0 && await DeadSilosAsync(database) > round) deadAt = clock.Elapsed.TotalSeconds;
                    if (rollout.Status != "running") break;
                    await Task.Delay(100);
                }
                await load.CancelAsync();
                await traffic;
                var normal = steps.Zip(steps.Skip(1), (x, y) => y - x).Where((_, i) => steps[i + 1] < killedAt).DefaultIfEmpty(1).Average();
                // The longest the stepping stood still from the kill on.
                var afterKill = steps.Where(t => t > killedAt).Prepend(killedAt).Zip(steps.Where(t => t > killedAt), (x, y) => y - x).DefaultIfEmpty(double.NaN).Max();
                declared.Add(deadAt - killedAt);
                paused.Add(afterKill);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  round {round + 1}: silo declared dead after {deadAt - killedAt:F1} s; rollout started through the {(throughVictim ? "killed server" : "survivor")}, its longest pause from the kill on {afterKill:F1} s (a step every {normal:F1} s before); {answered} requests to the survivor answered, {failed} failed"));
                try
                {
                    await survivor.Endpoints.AbortRolloutAsync("fo");
                }
                catch (StratusApiException)
                {
                    // it completed
                }
                await survivor.Endpoints.DeployAsync("fo", "fo:1");
                servers[victim] = StartServer(work, victim == 0 ? "a" : "b", settings);
            }
            declared.Sort();
            paused.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  median: declared dead {declared[declared.Count / 2]:F1} s, longest rollout pause {paused[paused.Count / 2]:F1} s (worst {paused[^1]:F1} s); ratio of the worst to the 10 s aim: {paused[^1] / 10:F2}"));
            await SoakAsync(database, [await servers[0].ReadyAsync(), await servers[1].ReadyAsync()], token, row, soakSeconds);
        }
        catch
        {
            // The servers' own account of a failure, before the work folder goes.
            foreach (var log in Directory.EnumerateFiles(work, "stratus.log", SearchOption.AllDirectories))
            {
                Console.Error.WriteLine($"== errors in {log}");
                var lines = File.ReadAllLines(log);
                var errors = Enumerable.Range(0, lines.Length).Where(i => lines[i].Contains(" fail ", StringComparison.Ordinal) || lines[i].Contains(" crit ", StringComparison.Ordinal));
                foreach (var i in errors.TakeLast(3))
                    foreach (var line in lines.Skip(i).Take(12)) Console.Error.WriteLine(line);
            }
            throw;
        }
        finally
        {
            foreach (var s in servers) s?.Kill();
            await TestDatabase.DropAsync(database);
        }
    }

    private static async Task SoakAsync(string database, string[] urls, string token, PredictRequest row, int seconds)
    {
        var clients = urls.Select(u => StratusClient.Create(u, token)).ToArray();
        var deadBefore = await DeadSilosAsync(database);
        var takenBefore = await ScalarAsync(database, "SELECT count(*) FROM jobs WHERE \"Epoch\" > 1");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var answered = 0L;
        var failed = 0L;
        var jobs = 0;
        var suspicions = 0L;
        var work = new List<Task>();
        // A spinning thread per core: the silos' probes, the job heartbeats and the requests all compete with it.
        for (var i = 0; i < Environment.ProcessorCount; i++)
        {
            work.Add(Task.Factory.StartNew(() =>
            {
                var x = 0.0;
                while (!stop.IsCancellationRequested) x = Math.Sqrt(x + 1);
                return x;
            }, TaskCreationOptions.LongRunning));
        }
        foreach (var client in clients)
        {
            for (var i = 0; i < 2; i++)
            {
                work.Add(Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        try
                        {
                            await client.Endpoints.PredictAsync("fo", row);
                            Interlocked.Increment(ref answered);
                        }
                        catch (Exception ex) when (ex is StratusApiException or HttpRequestException or TaskCanceledException)
                        {
                            Interlocked.Increment(ref failed);
                        }
                    }
                }));
            }
            // AutoML back to back in this server's one slot: a job process training beside the server.
            work.Add(Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var job = await client.Jobs.AutoMlAsync(new AutoMlRequest("failover", "fraud", 10, Exclude: ["id"], Parallel: 1));
                    Interlocked.Increment(ref jobs);
                    await client.Jobs.WaitAsync(job.Id);
                }
            }));
        }
        // Suspicion votes ("voter,time" entries joined by '|') stay in the membership rows of live silos: count the
        // entries, those left from the kill rounds subtracted, sampled through the soak.
        const string votes = "SELECT coalesce(sum(array_length(string_to_array(nullif(suspect_times, ''), '|'), 1)), 0) FROM orleans_membership WHERE deployment_id = 'bench' AND status = 3";
        var votesBefore = await ScalarAsync(database, votes);
        work.Add(Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                suspicions = Math.Max(suspicions, await ScalarAsync(database, votes) - votesBefore);
                await Task.Delay(500);
            }
        }));
        await Task.WhenAll(work);
        var dead = await DeadSilosAsync(database) - deadBefore;
        var taken = await ScalarAsync(database, "SELECT count(*) FROM jobs WHERE \"Epoch\" > 1") - takenBefore;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  soak under load, no kill, {seconds} s ({Environment.ProcessorCount} spinning threads, {jobs} AutoML jobs, {answered:N0} requests answered, {failed} failed): {dead} silos falsely declared dead, {suspicions} suspicion votes against live silos, {taken} job claims taken over from a live process"));
    }

    private static async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<long> DeadSilosAsync(string database)
    {
        return await ScalarAsync(database, "SELECT count(*) FROM orleans_membership WHERE deployment_id = 'bench' AND status = 6");
    }

    private static ServerNode StartServer(string work, string name, Dictionary<string, string> settings)
    {
        var home = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { JobHost.Path, "server", "--data-dir", home, "--urls", $"http://127.0.0.1:{port}" }) info.ArgumentList.Add(a);
        foreach (var (k, v) in settings) info.Environment[k] = v;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServerNode(process, $"http://127.0.0.1:{port}");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record ServerNode(Process Process, string Url)
    {
        public async Task<string> ReadyAsync()
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            for (var i = 0; i < 600; i++)
            {
                if (Process.HasExited) throw new InvalidOperationException($"the server at {Url} exited with {Process.ExitCode}");
                try
                {
                    if ((await http.GetAsync($"{Url}/health/ready")).IsSuccessStatusCode) return Url;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                }
                await Task.Delay(200);
            }
            throw new TimeoutException($"the server at {Url} did not become ready");
        }

        public void Kill()
        {
            try
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
