using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Stratus.Testing;

/// <summary>
/// The metadata database the tests run on: SQLite by default, PostgreSQL when <c>STRATUS_TEST_DATABASE=postgres</c>
/// (the test script runs the server and CLI suites both ways). On PostgreSQL every server gets a database of its own in
/// one throwaway cluster per test process.
/// </summary>
public static class TestDatabase
{
    public static bool IsPostgres { get; } =
        string.Equals(Environment.GetEnvironmentVariable("STRATUS_TEST_DATABASE"), "postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>A new, empty database and its connection string; null on SQLite (the server makes its file itself).</summary>
    public static async Task<string?> CreateAsync()
    {
        if (!IsPostgres) return null;
        var cluster = await PostgresCluster.Shared.Value;
        return await cluster.CreateDatabaseAsync();
    }

    /// <summary>
    /// The PostgreSQL database of a data directory, made on first use (null on SQLite): a server started again on the
    /// same directory finds the same database.
    /// </summary>
    public static async Task<string?> ForDataDirAsync(string dataDir)
    {
        if (!IsPostgres) return null;
        var file = Path.Combine(dataDir, "test-database");
        if (File.Exists(file)) return await File.ReadAllTextAsync(file);
        var database = await CreateAsync();
        await File.WriteAllTextAsync(file, database);
        return database;
    }

    /// <summary>
    /// A connection straight to the database of a server's data directory, for a test that writes what the API would
    /// take minutes to make, or breaks what it must survive. Quote identifiers (<c>"Id"</c>) and name parameters
    /// <c>@x</c>: both providers read those.
    /// </summary>
    public static async Task<DbConnection> OpenAsync(string dataDir)
    {
        DbConnection connection = IsPostgres
            ? new NpgsqlConnection(await ForDataDirAsync(dataDir))
            : new SqliteConnection($"Data Source={Path.Combine(dataDir, "stratus.db")}");
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>How many rows of an endpoint's answered requests are captured (in files the store holds), as the database lists them.</summary>
    public static async Task<long> CapturedRowsAsync(string dataDir, string endpoint)
    {
        await using var connection = await OpenAsync(dataDir);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce(sum(\"Rows\"), 0) FROM capture_files WHERE \"Endpoint\" = @endpoint";
        Parameter(command, "endpoint", endpoint);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>An instant as the provider stores it: Unix milliseconds in SQLite, timestamptz in PostgreSQL.</summary>
    public static object Time(DateTimeOffset time) => IsPostgres ? time.ToUniversalTime() : time.ToUnixTimeMilliseconds();

    /// <summary>Adds a parameter named <paramref name="name"/> (without its <c>@</c>) to <paramref name="command"/>.</summary>
    public static DbParameter Parameter(DbCommand command, string name, object? value = null)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
        return p;
    }

    /// <summary>Drops a database made by <see cref="CreateAsync"/>, closing what still holds it.</summary>
    public static async Task DropAsync(string? connectionString)
    {
        if (connectionString is null) return;
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var cluster = await PostgresCluster.Shared.Value;
        await cluster.ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    }
}

/// <summary>
/// A PostgreSQL cluster from the machine's own packages (<c>initdb</c>, <c>pg_ctl</c>), on a free loopback port, as a
/// non-root user (PostgreSQL refuses root: under root it runs as <c>postgres</c>), removed when the process exits.
/// </summary>
public sealed class PostgresCluster
{
    public static readonly Lazy<Task<PostgresCluster>> Shared = new(StartAsync);

    private static int _databases;
    private readonly string _dir;
    private readonly string _bin;

    private PostgresCluster(string dir, string bin, int port)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=stratus;Database={database};Timeout=10;Include Error Detail=true";

    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"stratus_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await ExecuteAsync($"CREATE DATABASE \"{name}\"");
        return ConnectionString(name);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<PostgresCluster> StartAsync()
    {
        var bin = FindBin();
        var dir = Directory.CreateTempSubdirectory("stratus-pg-").FullName;
        var root = Environment.UserName == "root";
        if (root) Run("chown", ["postgres:postgres", dir]);
        var port = FreePort();
        RunAs(root, Path.Combine(bin, "initdb"), ["-D", Path.Combine(dir, "data"), "-U", "stratus", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
        // Durability settings off: a test cluster is thrown away, and fsync costs seconds per test on a busy disk.
        RunAs(root, Path.Combine(bin, "pg_ctl"), ["-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "log"), "-w", "-t", "60", "-o",
            $"-p {port} -c listen_addresses=127.0.0.1 -k {dir} -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "start"]);
        var cluster = new PostgresCluster(dir, bin, port);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Stop(root);
        await Task.CompletedTask;
        return cluster;
    }

    private void Stop(bool root)
    {
        try
        {
            RunAs(root, Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"]);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    private static string FindBin()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            if (File.Exists(Path.Combine(dir, "pg_ctl")) && File.Exists(Path.Combine(dir, "initdb"))) return dir;
        }
        // Debian keeps the server's programs out of PATH, one folder per major version.
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [];
        var best = versions.Select(v => Path.Combine(v, "bin")).Where(b => File.Exists(Path.Combine(b, "pg_ctl")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var n) ? n : 0).FirstOrDefault();
        return best ?? throw new InvalidOperationException("STRATUS_TEST_DATABASE=postgres needs PostgreSQL's server programs (Debian: apt-get install postgresql)");
    }

    private static void RunAs(bool root, string program, string[] args)
    {
        if (root) Run("runuser", ["-u", "postgres", "--", program, .. args]);
        else Run(program, args);
    }

    private static void Run(string program, string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {error}{output.Result}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
