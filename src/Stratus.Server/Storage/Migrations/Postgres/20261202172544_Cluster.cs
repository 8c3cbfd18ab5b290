using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Stratus.Server.Storage.Migrations.Postgres
{
    /// <summary>
    /// The cluster's tables: the nodes and their serving counters, captured requests and batch jobs' parts kept in the
    /// store, and the tables Orleans' ADO.NET clustering and reminders use (membership of the silos of <c>--cluster</c>
    /// servers, durable reminders) and the queries it runs on them, which it reads from <c>OrleansQuery</c> at start. The
    /// queries' parameter and column names are Orleans' contract (it binds <c>@DeploymentId</c>, <c>@Address</c>, ...
    /// and reads columns by name); the tables are this schema's own. Written for Orleans 10.4.
    /// </summary>
    public partial class Cluster : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "capture_files",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Endpoint = table.Column<string>(type: "text", nullable: false),
                    Sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Size = table.Column<long>(type: "bigint", nullable: false),
                    Rows = table.Column<int>(type: "integer", nullable: false),
                    From = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    To = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Node = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_capture_files", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "job_parts",
                columns: table => new
                {
                    JobId = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_job_parts", x => new { x.JobId, x.Name });
                });

            migrationBuilder.CreateTable(
                name: "nodes",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    Role = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Host = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    Url = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    Silo = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    Version = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    StartedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    SeenAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    StoppedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Slots = table.Column<int>(type: "integer", nullable: false),
                    JobsRunning = table.Column<int>(type: "integer", nullable: false),
                    EndpointsLoaded = table.Column<int>(type: "integer", nullable: false),
                    CpuPercent = table.Column<double>(type: "double precision", nullable: false),
                    MemoryBytes = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_nodes", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "node_counters",
                columns: table => new
                {
                    Node = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    Endpoint = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    ModelName = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    ModelVersion = table.Column<int>(type: "integer", nullable: false),
                    Role = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Requests = table.Column<long>(type: "bigint", nullable: false),
                    Errors = table.Column<long>(type: "bigint", nullable: false),
                    Rejected = table.Column<long>(type: "bigint", nullable: false),
                    Rows = table.Column<long>(type: "bigint", nullable: false),
                    Seconds = table.Column<double>(type: "double precision", nullable: false),
                    Buckets = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    Batches = table.Column<long>(type: "bigint", nullable: false),
                    BatchRows = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_node_counters", x => new { x.Node, x.Endpoint, x.ModelName, x.ModelVersion, x.Role });
                    table.ForeignKey(
                        name: "FK_node_counters_nodes_Node",
                        column: x => x.Node,
                        principalTable: "nodes",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_capture_files_Endpoint_To",
                table: "capture_files",
                columns: new[] { "Endpoint", "To" });

            migrationBuilder.Sql("""
                CREATE TABLE orleans_membership_version (
                    deployment_id varchar(150) PRIMARY KEY,
                    version integer NOT NULL DEFAULT 0,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );

                CREATE TABLE orleans_membership (
                    deployment_id varchar(150) NOT NULL REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE,
                    address varchar(45) NOT NULL,
                    port integer NOT NULL,
                    generation integer NOT NULL,
                    silo_name varchar(150) NOT NULL,
                    host_name varchar(150) NOT NULL,
                    status integer NOT NULL,
                    proxy_port integer NOT NULL DEFAULT 0,
                    suspect_times text,
                    start_time timestamptz NOT NULL,
                    i_am_alive_time timestamptz NOT NULL,
                    PRIMARY KEY (deployment_id, address, port, generation)
                );

                CREATE TABLE orleans_reminders (
                    service_id varchar(150) NOT NULL,
                    grain_id text NOT NULL,
                    reminder_name varchar(150) NOT NULL,
                    start_time timestamptz NOT NULL,
                    period bigint NOT NULL,
                    grain_hash integer NOT NULL,
                    version integer NOT NULL,
                    PRIMARY KEY (service_id, grain_id, reminder_name)
                );
                CREATE INDEX ix_orleans_reminders_hash ON orleans_reminders (service_id, grain_hash);

                CREATE TABLE OrleansQuery (
                    QueryKey varchar(64) PRIMARY KEY,
                    QueryText text NOT NULL
                );
                """);

            // Every write of a membership row moves the table's version on, and only from the version the writer read
            // (Orleans' optimistic protocol): the version row is locked first, so two silos that read the same version
            // cannot both write. Each returns how many rows it wrote, which Orleans reads as true or false.
            const string member = """
                m.address AS Address, m.port AS Port, m.generation AS Generation, m.silo_name AS SiloName,
                m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort, m.suspect_times AS SuspectTimes,
                m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime
                """;
            const string reminder = "grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period AS Period, version AS Version";
            Query(migrationBuilder, "InsertMembershipVersionKey", """
                WITH inserted AS (
                    INSERT INTO orleans_membership_version (deployment_id) VALUES (@DeploymentId) ON CONFLICT DO NOTHING RETURNING 1)
                SELECT count(*) FROM inserted
                """);
            Query(migrationBuilder, "MembershipReadAllKey", $"""
                SELECT v.version AS Version, {member}
                FROM orleans_membership_version v
                LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
                WHERE v.deployment_id = @DeploymentId
                """);
            Query(migrationBuilder, "MembershipReadRowKey", $"""
                SELECT v.version AS Version, {member}
                FROM orleans_membership_version v
                LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
                    AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
                WHERE v.deployment_id = @DeploymentId
                """);
            Query(migrationBuilder, "InsertMembershipKey", """
                WITH expected AS (
                    SELECT deployment_id FROM orleans_membership_version
                    WHERE deployment_id = @DeploymentId AND version = @Version FOR UPDATE),
                inserted AS (
                    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port, start_time, i_am_alive_time)
                    SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime FROM expected
                    ON CONFLICT DO NOTHING RETURNING deployment_id),
                bumped AS (
                    UPDATE orleans_membership_version v SET version = v.version + 1, updated_at = now()
                    FROM inserted WHERE v.deployment_id = inserted.deployment_id RETURNING 1)
                SELECT count(*) FROM bumped
                """);
            Query(migrationBuilder, "UpdateMembershipKey", """
                WITH expected AS (
                    SELECT deployment_id FROM orleans_membership_version
                    WHERE deployment_id = @DeploymentId AND version = @Version FOR UPDATE),
                updated AS (
                    UPDATE orleans_membership m SET status = @Status, suspect_times = @SuspectTimes, i_am_alive_time = @IAmAliveTime
                    FROM expected
                    WHERE m.deployment_id = expected.deployment_id AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
                    RETURNING m.deployment_id),
                bumped AS (
                    UPDATE orleans_membership_version v SET version = v.version + 1, updated_at = now()
                    FROM updated WHERE v.deployment_id = updated.deployment_id RETURNING 1)
                SELECT count(*) FROM bumped
                """);
            Query(migrationBuilder, "UpdateIAmAlivetimeKey", """
                UPDATE orleans_membership SET i_am_alive_time = @IAmAliveTime
                WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
                """);
            Query(migrationBuilder, "GatewaysQueryKey", """
                SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation
                FROM orleans_membership
                WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0
                """);
            Query(migrationBuilder, "DeleteMembershipTableEntriesKey", "DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId");
            Query(migrationBuilder, "CleanupDefunctSiloEntriesKey", """
                DELETE FROM orleans_membership
                WHERE deployment_id = @DeploymentId AND i_am_alive_time < @IAmAliveTime AND status <> 3
                """);

            Query(migrationBuilder, "ReadReminderRowsKey", $"SELECT {reminder} FROM orleans_reminders WHERE service_id = @ServiceId AND grain_id = @GrainId");
            Query(migrationBuilder, "ReadReminderRowKey", $"""
                SELECT {reminder} FROM orleans_reminders
                WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
                """);
            // A range of the hash ring: (begin, end], or, when it wraps around, (begin, max] and [min, end].
            Query(migrationBuilder, "ReadRangeRows1Key", $"""
                SELECT {reminder} FROM orleans_reminders
                WHERE service_id = @ServiceId AND grain_hash > @BeginHash AND grain_hash <= @EndHash
                """);
            Query(migrationBuilder, "ReadRangeRows2Key", $"""
                SELECT {reminder} FROM orleans_reminders
                WHERE service_id = @ServiceId AND (grain_hash > @BeginHash OR grain_hash <= @EndHash)
                """);
            Query(migrationBuilder, "UpsertReminderRowKey", """
                INSERT INTO orleans_reminders (service_id, grain_id, reminder_name, start_time, period, grain_hash, version)
                VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
                ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
                    SET start_time = excluded.start_time, period = excluded.period, grain_hash = excluded.grain_hash,
                        version = orleans_reminders.version + 1
                RETURNING version AS Version
                """);
            Query(migrationBuilder, "DeleteReminderRowKey", """
                WITH deleted AS (
                    DELETE FROM orleans_reminders
                    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName AND version = @Version
                    RETURNING 1)
                SELECT count(*) FROM deleted
                """);
            Query(migrationBuilder, "DeleteReminderRowsKey", "DELETE FROM orleans_reminders WHERE service_id = @ServiceId");
        }

        private static void Query(MigrationBuilder migrationBuilder, string key, string text) =>
            migrationBuilder.Sql($"INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('{key}', $query${text}$query$);");

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TABLE OrleansQuery; DROP TABLE orleans_reminders; DROP TABLE orleans_membership; DROP TABLE orleans_membership_version;");

            migrationBuilder.DropTable(
                name: "capture_files");

            migrationBuilder.DropTable(
                name: "job_parts");

            migrationBuilder.DropTable(
                name: "node_counters");

            migrationBuilder.DropTable(
                name: "nodes");
        }
    }
}
