using System.Data;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using Stratus.Server.Storage;

namespace Stratus.Server.Tracking;

/// <summary>
/// Appends a batch of metric points, and the run's heartbeat when asked, in one transaction, by each provider's fastest
/// path: PostgreSQL's binary COPY, SQLite's prepared INSERT (in-process, where a statement costs microseconds).
/// </summary>
internal static class MetricWriter
{
    /// <param name="heartbeat">Also stamps the run's heartbeat: an update of its row, which concurrent batches of the same run take turns at.</param>
    public static async Task AppendAsync(StratusDb db, string runId, IReadOnlyList<MetricPoint> points, DateTimeOffset now, bool heartbeat, CancellationToken ct)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await using var tx = await connection.BeginTransactionAsync(ct);
            if (connection is NpgsqlConnection npgsql) await CopyAsync(npgsql, runId, points, now.ToUnixTimeMilliseconds(), ct);
            else await InsertAsync(connection, tx, runId, points, now.ToUnixTimeMilliseconds(), ct);
            if (heartbeat) await BeatAsync(connection, tx, runId, now, ct);
            await tx.CommitAsync(ct);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static async Task BeatAsync(DbConnection connection, DbTransaction tx, string runId, DateTimeOffset now, CancellationToken ct)
    {
        await using var beat = connection.CreateCommand();
        beat.Transaction = tx;
        beat.CommandText = "UPDATE runs SET \"HeartbeatAt\" = @now WHERE \"Id\" = @run";
        // Each provider stores the instant its own way (Unix milliseconds in SQLite, timestamptz in PostgreSQL).
        var stamp = beat.CreateParameter();
        stamp.ParameterName = "@now";
        stamp.Value = connection is NpgsqlConnection ? DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()) : now.ToUnixTimeMilliseconds();
        beat.Parameters.Add(stamp);
        Parameter(beat, "@run", DbType.String).Value = runId;
        await beat.ExecuteNonQueryAsync(ct);
    }

    private static async Task CopyAsync(NpgsqlConnection connection, string runId, IReadOnlyList<MetricPoint> points, long nowMs, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY metrics (\"RunId\", \"Key\", \"Value\", \"Step\", \"Timestamp\") FROM STDIN (FORMAT BINARY)", ct);
        foreach (var p in points)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(runId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.Key, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.Value, NpgsqlDbType.Double, ct);
            await copy.WriteAsync(p.Step, NpgsqlDbType.Bigint, ct);
            await copy.WriteAsync(p.Timestamp ?? nowMs, NpgsqlDbType.Bigint, ct);
        }
        await copy.CompleteAsync(ct);
    }

    private static async Task InsertAsync(DbConnection connection, DbTransaction tx, string runId, IReadOnlyList<MetricPoint> points, long nowMs, CancellationToken ct)
    {
        await using var insert = connection.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText = "INSERT INTO metrics (\"RunId\", \"Key\", \"Value\", \"Step\", \"Timestamp\") VALUES (@run, @key, @value, @step, @ts)";
        var pRun = Parameter(insert, "@run", DbType.String);
        var pKey = Parameter(insert, "@key", DbType.String);
        var pValue = Parameter(insert, "@value", DbType.Double);
        var pStep = Parameter(insert, "@step", DbType.Int64);
        var pTs = Parameter(insert, "@ts", DbType.Int64);
        await insert.PrepareAsync(ct);
        pRun.Value = runId;
        foreach (var p in points)
        {
            pKey.Value = p.Key;
            pValue.Value = p.Value;
            pStep.Value = p.Step;
            pTs.Value = p.Timestamp ?? nowMs;
            await insert.ExecuteNonQueryAsync(ct);
        }
    }

    private static DbParameter Parameter(DbCommand command, string name, DbType type)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.DbType = type;
        command.Parameters.Add(p);
        return p;
    }
}
