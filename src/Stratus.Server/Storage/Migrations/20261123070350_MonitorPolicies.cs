using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations
{
    /// <inheritdoc />
    public partial class MonitorPolicies : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "InputsJson",
                table: "feedback",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "monitor_policies",
                columns: table => new
                {
                    Endpoint = table.Column<string>(type: "TEXT", nullable: false),
                    PolicyJson = table.Column<string>(type: "TEXT", nullable: false),
                    NextCheckAt = table.Column<long>(type: "INTEGER", nullable: true),
                    LastCheckAt = table.Column<long>(type: "INTEGER", nullable: true),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_monitor_policies", x => x.Endpoint);
                });

            migrationBuilder.CreateTable(
                name: "policy_decisions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Endpoint = table.Column<string>(type: "TEXT", nullable: false),
                    Trigger = table.Column<string>(type: "TEXT", nullable: false),
                    Status = table.Column<string>(type: "TEXT", nullable: false),
                    ReasonsJson = table.Column<string>(type: "TEXT", nullable: false),
                    ChampionName = table.Column<string>(type: "TEXT", nullable: false),
                    ChampionVersion = table.Column<int>(type: "INTEGER", nullable: false),
                    ChallengerVersion = table.Column<int>(type: "INTEGER", nullable: true),
                    DriftReportId = table.Column<long>(type: "INTEGER", nullable: true),
                    JobId = table.Column<string>(type: "TEXT", nullable: true),
                    TrainingData = table.Column<string>(type: "TEXT", nullable: true),
                    Holdout = table.Column<string>(type: "TEXT", nullable: true),
                    Metric = table.Column<string>(type: "TEXT", nullable: true),
                    ScoresJson = table.Column<string>(type: "TEXT", nullable: false),
                    RolloutId = table.Column<long>(type: "INTEGER", nullable: true),
                    AlertsJson = table.Column<string>(type: "TEXT", nullable: false),
                    PolicyJson = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_policy_decisions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_policy_decisions_Endpoint_Id",
                table: "policy_decisions",
                columns: new[] { "Endpoint", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_policy_decisions_Status",
                table: "policy_decisions",
                column: "Status");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "monitor_policies");

            migrationBuilder.DropTable(
                name: "policy_decisions");

            migrationBuilder.DropColumn(
                name: "InputsJson",
                table: "feedback");
        }
    }
}
