using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations
{
    /// <inheritdoc />
    public partial class Serving : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "MaxConcurrency",
                table: "endpoints",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "MaxQueue",
                table: "endpoints",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "endpoint_versions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    EndpointId = table.Column<long>(type: "INTEGER", nullable: false),
                    ModelRef = table.Column<string>(type: "TEXT", nullable: false),
                    ModelName = table.Column<string>(type: "TEXT", nullable: false),
                    ModelVersion = table.Column<int>(type: "INTEGER", nullable: false),
                    Weight = table.Column<int>(type: "INTEGER", nullable: false),
                    Shadow = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_endpoint_versions", x => x.Id);
                    table.ForeignKey(
                        name: "FK_endpoint_versions_endpoints_EndpointId",
                        column: x => x.EndpointId,
                        principalTable: "endpoints",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "rollouts",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Endpoint = table.Column<string>(type: "TEXT", nullable: false),
                    FromName = table.Column<string>(type: "TEXT", nullable: false),
                    FromVersion = table.Column<int>(type: "INTEGER", nullable: false),
                    ToName = table.Column<string>(type: "TEXT", nullable: false),
                    ToVersion = table.Column<int>(type: "INTEGER", nullable: false),
                    Canary = table.Column<int>(type: "INTEGER", nullable: false),
                    Step = table.Column<int>(type: "INTEGER", nullable: false),
                    IntervalSeconds = table.Column<int>(type: "INTEGER", nullable: false),
                    MaxErrorRate = table.Column<double>(type: "REAL", nullable: false),
                    MaxP99Ms = table.Column<double>(type: "REAL", nullable: true),
                    MinRequests = table.Column<int>(type: "INTEGER", nullable: false),
                    Weight = table.Column<int>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", nullable: false),
                    Reason = table.Column<string>(type: "TEXT", nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    NextAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rollouts", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_endpoint_versions_EndpointId_ModelName_ModelVersion",
                table: "endpoint_versions",
                columns: new[] { "EndpointId", "ModelName", "ModelVersion" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_rollouts_Endpoint_Status",
                table: "rollouts",
                columns: new[] { "Endpoint", "Status" });

            // Endpoints deployed before traffic splits serve their one version with all the traffic.
            migrationBuilder.Sql(
                "INSERT INTO endpoint_versions (EndpointId, ModelRef, ModelName, ModelVersion, Weight, Shadow) " +
                "SELECT Id, ModelRef, ModelName, ModelVersion, 100, 0 FROM endpoints");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "endpoint_versions");

            migrationBuilder.DropTable(
                name: "rollouts");

            migrationBuilder.DropColumn(
                name: "MaxConcurrency",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "MaxQueue",
                table: "endpoints");
        }
    }
}
