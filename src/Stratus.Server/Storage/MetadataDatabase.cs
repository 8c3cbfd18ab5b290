using System.Data.Common;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using Stratus.Server.Kernel;

namespace Stratus.Server.Storage;

/// <summary>
/// The metadata database's wiring and start: the provider chosen by <see cref="StorageSettings.Database"/>, its schema
/// brought up to this build's, and what an operator reads when it cannot be reached or does not match.
/// </summary>
internal static class MetadataDatabase
{
    /// <summary>The providers <see cref="StorageSettings.Database"/> names.</summary>
    public static readonly string[] Providers = ["sqlite", "postgres"];

    // The last migration of the development chain that the per-provider baselines replaced (same schema).
    private const string SquashedChainLast = "20261202055754_StrictCategories";

    public static void AddStratusDatabase(this IServiceCollection services, StorageSettings options)
    {
        // Pooled: every authenticated request (each prediction included) needs a context; reuse them rather than rebuild.
        // Each scope's context is handed its scope's project (ProjectScope), which its query filters read.
        switch (Provider(options))
        {
            case "sqlite":
                var file = Path.Combine(options.DataDir, "stratus.db");
                services.AddPooledDbContextFactory<SqliteStratusDb>(db => db.UseSqlite(options.ConnectionString ?? $"Data Source={file};Pooling=True").ReplaceService<IModelCacheKeyFactory, ColumnSealer.ModelCacheKeys>());
                services.AddScoped<StratusDb>(sp => Scoped(sp, sp.GetRequiredService<IDbContextFactory<SqliteStratusDb>>().CreateDbContext()));
                break;
            case "postgres":
                var connection = PostgresConnectionString(options);
                services.AddPooledDbContextFactory<PostgresStratusDb>(db => db.UseNpgsql(connection).ReplaceService<IModelCacheKeyFactory, ColumnSealer.ModelCacheKeys>());
                services.AddScoped<StratusDb>(sp => Scoped(sp, sp.GetRequiredService<IDbContextFactory<PostgresStratusDb>>().CreateDbContext()));
                break;
        }
        services.AddScoped<Security.ProjectScope>();
    }

    private static StratusDb Scoped(IServiceProvider services, StratusDb db)
    {
        db.Scope = services.GetRequiredService<Security.ProjectScope>();
        return db;
    }

    /// <summary>The provider's canonical name; anything else is refused at start, naming the setting.</summary>
    public static string Provider(StorageSettings options) => options.Database.ToLowerInvariant() switch
    {
        "sqlite" => "sqlite",
        "postgres" or "postgresql" or "npgsql" => "postgres",
        _ => throw new StartupException($"Stratus:Database (STRATUS_DATABASE, --database) is '{options.Database}'; use 'sqlite' or 'postgres'"),
    };

    private static string PostgresConnectionString(StorageSettings options)
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
            throw new StartupException("Stratus:Database is 'postgres' but no connection string is set: pass --connection-string \"Host=...;Database=stratus;Username=...\" or STRATUS_CONNECTIONSTRING");
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            // Application_Name shows who holds a connection in pg_stat_activity.
            if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = "stratus";
            return builder.ConnectionString;
        }
        catch (ArgumentException ex)
        {
            throw new StartupException($"Stratus:ConnectionString (STRATUS_CONNECTIONSTRING, --connection-string) is not a PostgreSQL connection string: {ex.Message}");
        }
    }

    /// <summary>
    /// Applies this build's migrations when <see cref="StorageSettings.MigrateOnStart"/> allows it, and refuses to start
    /// on a schema that this build does not know (a newer node migrated it) or, when migrations are left to an
    /// operator, one that is older.
    /// </summary>
    public static async Task PrepareAsync(StratusDb db, StorageSettings options, CancellationToken ct)
    {
        var database = db.Database;
        var locked = false;
        try
        {
            if (database.IsSqlite()) await AdoptSquashedChainAsync(db, ct);
            else locked = await LockSchemaAsync(db, ct);
            var known = database.GetMigrations().ToList();
            // Asking a database without a history table for its migrations logs a failed query: ask only one that has it.
            var history = db.GetService<IHistoryRepository>();
            var applied = await history.ExistsAsync(ct) ? (await database.GetAppliedMigrationsAsync(ct)).ToList() : [];
            var mine = known.LastOrDefault() ?? "none";
            var unknown = applied.Where(a => !known.Contains(a)).ToList();
            if (unknown.Count > 0)
                throw new StartupException($"the metadata database's schema is at {unknown[^1]}, newer than this build's {mine}: upgrade this node to the version the others run");
            var pending = known.Except(applied).ToList();
            if (pending.Count > 0 && !options.MigrateOnStart)
                throw new StartupException($"the metadata database's schema is at {(applied.Count == 0 ? "none (empty)" : applied[^1])}, older than this build's {mine}, and Stratus:MigrateOnStart is false: start one node with it true to migrate");
            if (pending.Count > 0) await database.MigrateAsync(ct);
            if (database.IsSqlite())
            {
                // WAL survives a killed process without losing committed transactions, and lets readers run beside the writer.
                await database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", ct);
            }
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw new StartupException($"cannot reach the metadata database {Describe(db)} (Stratus:ConnectionString, STRATUS_CONNECTIONSTRING): {Root(ex).Message}");
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName)
        {
            throw new StartupException($"the metadata database {Describe(db)} refused the connection (Stratus:ConnectionString, STRATUS_CONNECTIONSTRING): {ex.MessageText}");
        }
        finally
        {
            if (locked) await UnlockSchemaAsync(db);
        }
    }

    // The key of the session-level advisory lock that nodes hold while they check and migrate the schema.
    private const string LockSchema = "SELECT pg_advisory_lock(6004234345560363777)", UnlockSchema = "SELECT pg_advisory_unlock(6004234345560363777)";

    /// <summary>
    /// Several nodes started at once on an empty PostgreSQL database would otherwise each find the same migrations
    /// pending and apply them over each other: the first holds this lock while it checks and migrates, the others wait
    /// for it and then find nothing left to do. Session-level, so it spans the migrations' own transactions.
    /// </summary>
    private static async Task<bool> LockSchemaAsync(StratusDb db, CancellationToken ct)
    {
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await db.Database.ExecuteSqlRawAsync(LockSchema, ct);
            return true;
        }
        catch
        {
            await db.Database.CloseConnectionAsync();
            throw;
        }
    }

    private static async Task UnlockSchemaAsync(StratusDb db)
    {
        try
        {
            await db.Database.ExecuteSqlRawAsync(UnlockSchema);
        }
        catch (DbException)
        {
            // A broken connection has lost the lock with its session already.
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>
    /// A data directory made while the schema was still a chain of development migrations has the same schema as the
    /// SQLite baseline: its history is rewritten once to name the baseline. A directory from the middle of that chain
    /// cannot be adopted safely and is refused.
    /// </summary>
    private static async Task AdoptSquashedChainAsync(StratusDb db, CancellationToken ct)
    {
        var connection = (SqliteConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await using var check = connection.CreateCommand();
            check.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '__EFMigrationsHistory'";
            if (Convert.ToInt64(await check.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) == 0) return;
            var ids = new List<string>();
            await using (var read = connection.CreateCommand())
            {
                read.CommandText = "SELECT MigrationId FROM __EFMigrationsHistory ORDER BY MigrationId";
                await using var reader = await read.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct)) ids.Add(reader.GetString(0));
            }
            var baseline = db.Database.GetMigrations().First();
            if (ids.Count == 0 || ids.Contains(baseline) || string.CompareOrdinal(ids[0], baseline) > 0) return;
            if (!ids.Contains(SquashedChainLast))
                throw new StartupException($"this data directory's schema is at {ids[^1]}, from a development build before {SquashedChainLast}; start afresh with a new data directory");
            await using var tx = await connection.BeginTransactionAsync(ct);
            await using var rewrite = connection.CreateCommand();
            rewrite.Transaction = (SqliteTransaction)tx;
            rewrite.CommandText = "DELETE FROM __EFMigrationsHistory; INSERT INTO __EFMigrationsHistory (MigrationId, ProductVersion) VALUES ($id, $version)";
            rewrite.Parameters.AddWithValue("$id", baseline);
            rewrite.Parameters.AddWithValue("$version", ProductInfo.GetVersion());
            await rewrite.ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>
    /// Whether <paramref name="exception"/> means the database cannot be reached right now (refused, timed out, shut
    /// down): the request gets 503 with Retry-After, not 500, and the node recovers by itself once it is back.
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case NpgsqlException npgsql when npgsql.IsTransient:
                case SocketException:
                case TimeoutException:
                    return true;
                case PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.CrashShutdown }:
                    return true;
                case SqliteException { SqliteErrorCode: 5 or 6 }: // SQLITE_BUSY, SQLITE_LOCKED beyond the busy timeout
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Whether <paramref name="exception"/> means a write met another one made at the same time: a concurrency token
    /// that moved, a deadlock or a serialization failure (PostgreSQL), a unique key the other took. Made again from a
    /// fresh read, the write succeeds.
    /// </summary>
    public static bool IsConflict(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DbUpdateConcurrencyException:
                case PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation }:
                case SqliteException { SqliteExtendedErrorCode: 2067 or 1555 }: // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY (not NOT NULL or a foreign key)
                    return true;
            }
        }
        return false;
    }

    private static string Describe(StratusDb db)
    {
        var connection = db.Database.GetDbConnection();
        if (connection is not NpgsqlConnection) return connection.DataSource;
        var settings = new NpgsqlConnectionStringBuilder(connection.ConnectionString);
        return $"{settings.Host}:{settings.Port}/{settings.Database}";
    }

    private static Exception Root(Exception e)
    {
        while (e.InnerException is not null && e is not DbException) e = e.InnerException;
        return e;
    }
}
