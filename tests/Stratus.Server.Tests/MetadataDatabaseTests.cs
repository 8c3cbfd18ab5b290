using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Stratus.Client;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>The metadata database's start and faults: schema versions, a database that cannot be reached, on both providers.</summary>
public sealed class MetadataDatabaseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Should_adopt_a_data_directory_made_by_the_development_migration_chain()
    {
        Assert.SkipWhen(TestDatabase.IsPostgres, "a SQLite data directory");
        var dir = Directory.CreateTempSubdirectory("stratus-old-").FullName;
        try
        {
            // Made by the build before the squash (upload, train, register): its history names the eleven old migrations.
            await using (var old = new SqliteConnection($"Data Source={Path.Combine(dir, "stratus.db")};Pooling=False"))
            {
                await old.OpenAsync(Ct);
                await using var load = old.CreateCommand();
                load.CommandText = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Data", "pre-squash.sql"), Ct);
                await load.ExecuteNonQueryAsync(Ct);
            }
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Data", "pre-squash.admin.token"), Path.Combine(dir, "admin.token"));
            // That build kept captured requests as files in the data directory; they move into the store, rows and all.
            var legacy = Directory.CreateDirectory(Path.Combine(dir, "capture", "legacy")).FullName;
            await File.WriteAllTextAsync(Path.Combine(legacy, "20261201T100000Z-000001.jsonl"), string.Concat(Enumerable.Range(0, 3).Select(i =>
                $$$"""{"time":"2026-12-01T10:00:0{{{i}}}Z","request_id":"r{{{i}}}","row":0,"model":{"name":"tiny","version":1},"inputs":{"x":{{{i}}}},"prediction":{"label":"a"}}""" + "\n")), Ct);

            await using (var server = await TestServer.StartAsync(dataDir: dir))
            {
                var client = server.Client();
                var model = await client.Models.ResolveAsync("tiny:1");
                var run = await client.Runs.GetAsync(model.RunId);
                Assert.Equal("FINISHED", run.Status);
                Assert.NotEmpty(await client.Runs.GetMetricsAsync(run.Id, ct: Ct));
                // New rows continue the old ones' ids and versions.
                var v2 = await client.Datasets.UploadAsync("tiny", new MemoryStream("x,y,label\n1,2,a\n2,1,b\n"u8.ToArray()), ct: Ct);
                Assert.Equal(2, v2.Version);
                for (var i = 0; i < 100 && Directory.Exists(legacy); i++) await Task.Delay(100, Ct);
                Assert.False(Directory.Exists(Path.Combine(dir, "capture")));
                Assert.Equal(3, await TestDatabase.CapturedRowsAsync(dir, "legacy"));

                await using var scope = server.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
                Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync(Ct));
                await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("DELETE FROM audit_log", Ct));
            }
        }
        finally
        {
            TestServer.TryDelete(dir);
        }
    }

    [Fact]
    public async Task Should_start_two_nodes_at_once_on_an_empty_postgres_database_with_one_schema_and_one_admin_token()
    {
        var cluster = await PostgresCluster.Shared.Value;
        var database = await cluster.CreateDatabaseAsync();
        // Every node the same key-encryption keys: a key file on a shared folder, made by whichever comes first.
        var keys = Path.Combine(Directory.CreateTempSubdirectory("stratus-keys-").FullName, "master.keys");
        var starts = Enumerable.Range(0, 2).Select(_ => TestServer.StartAsync(o =>
        {
            (o.Storage.Database, o.Storage.ConnectionString) = ("postgres", database);
            o.Storage.KeyFile = keys;
        })).ToList();
        try
        {
            var servers = await Task.WhenAll(starts);
            var admin = Assert.Single(servers, s => s.AdminToken.Length > 0).AdminToken;
            foreach (var server in servers)
            {
                using var http = server.Http(admin);
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("api/v1/whoami", TestContext.Current.CancellationToken)).StatusCode);
            }
            var tokens = await servers[0].Client(admin).Tokens.ListAsync(ct: TestContext.Current.CancellationToken);
            Assert.Equal("admin", Assert.Single(tokens.Items).Name);
        }
        finally
        {
            foreach (var start in starts.Where(s => s.IsCompletedSuccessfully)) await (await start).DisposeAsync();
            TestServer.TryDelete(Path.GetDirectoryName(keys)!);
        }
    }

    [Fact]
    public async Task Should_refuse_to_start_on_a_schema_newer_than_its_own_naming_both()
    {
        var dir = Directory.CreateTempSubdirectory("stratus-newer-").FullName;
        try
        {
            string mine;
            await using (var server = await TestServer.StartAsync(dataDir: dir))
            {
                await using var scope = server.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
                mine = db.Database.GetMigrations().Last();
                await db.Database.ExecuteSqlRawAsync(
                    "INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\") VALUES ('29991231000000_FromTheFuture', '99.0.0')", Ct);
            }
            var refused = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(dataDir: dir));
            Assert.Contains("29991231000000_FromTheFuture", refused.Message, StringComparison.Ordinal);
            Assert.Contains(mine, refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            TestServer.TryDelete(dir);
        }
    }

    [Fact]
    public async Task Should_refuse_to_start_on_an_unreachable_database_naming_the_host_and_the_setting()
    {
        var port = Stratus.Server.Tests.Ports.Closed();
        var refused = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(o =>
        {
            o.Storage.Database = "postgres";
            o.Storage.ConnectionString = $"Host=127.0.0.1;Port={port};Database=stratus;Username=stratus;Timeout=3";
        }));
        Assert.Contains($"127.0.0.1:{port}/stratus", refused.Message, StringComparison.Ordinal);
        Assert.Contains("STRATUS_CONNECTIONSTRING", refused.Message, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(o => (o.Storage.Database, o.Storage.ConnectionString) = ("postgres", null)));
        Assert.Contains("connection string", missing.Message, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(o => o.Storage.Database = "oracle"));
        Assert.Contains("'oracle'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_answer_503_while_postgres_is_unreachable_keep_endpoints_answering_and_recover_by_itself()
    {
        // Always on PostgreSQL (a SQLite file cannot become unreachable), behind a relay that the test cuts.
        var cluster = await PostgresCluster.Shared.Value;
        var database = await cluster.CreateDatabaseAsync();
        await using var relay = new TcpRelay(cluster.Port);
        var viaRelay = new NpgsqlConnectionStringBuilder(database) { Port = relay.Port, Timeout = 3 }.ConnectionString;
        await using var server = await TestServer.StartAsync(o => (o.Storage.Database, o.Storage.ConnectionString) = ("postgres", viaRelay));
        var client = server.Client();
        var (onnx, _) = OnnxGraph.Mlp(3, 2, 8, 2);
        await client.Models.ImportAsync("net", new MemoryStream(onnx), "net.onnx",
            new OnnxSignature(Classes: ["no", "yes"], Inputs: [new OnnxInput("x", ["a", "b"])], Scores: "logits"), ct: Ct);
        await client.Endpoints.DeployAsync("net", "net:1", Ct);
        var request = new PredictRequest([new Dictionary<string, JsonElement> { ["a"] = JsonSerializer.SerializeToElement(0.5), ["b"] = JsonSerializer.SerializeToElement(1.5) }]);
        var before = await client.Endpoints.PredictAsync("net", request, Ct);

        relay.Cut();
        using var http = server.Http(server.AdminToken);
        var down = await http.GetAsync("api/v1/experiments", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.NotNull(down.Headers.RetryAfter);
        using (var problem = JsonDocument.Parse(await down.Content.ReadAsStringAsync(Ct)))
            Assert.Contains("database", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var upload = await Assert.ThrowsAsync<StratusApiException>(() => client.Datasets.UploadAsync("during", new MemoryStream("a,b\n1,2\n"u8.ToArray()), ct: Ct));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, upload.Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("health/ready", Ct)).StatusCode);
        // The request path of a loaded endpoint needs no database, past the token cache's lifetime too.
        await Task.Delay(TimeSpan.FromSeconds(6), Ct);
        for (var i = 0; i < 20; i++)
            Assert.Equal(before.Predictions[0].Label, (await client.Endpoints.PredictAsync("net", request, Ct)).Predictions[0].Label);

        relay.Restore();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status;
        do
        {
            await Task.Delay(250, Ct);
            status = (await http.GetAsync("api/v1/experiments", Ct)).StatusCode;
        }
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health/ready", Ct)).StatusCode);
        // Nothing of the refused upload was stored.
        Assert.DoesNotContain((await client.Datasets.ListAsync(ct: Ct)).Items, d => d.Name == "during");
        await TestDatabase.DropAsync(database);
    }
}

internal static class Ports
{
    /// <summary>A loopback port with nothing listening on it.</summary>
    public static int Closed()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
