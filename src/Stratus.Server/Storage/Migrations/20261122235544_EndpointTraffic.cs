using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations
{
    /// <inheritdoc />
    public partial class EndpointTraffic : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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

            migrationBuilder.CreateIndex(
                name: "IX_endpoint_versions_EndpointId_ModelName_ModelVersion",
                table: "endpoint_versions",
                columns: new[] { "EndpointId", "ModelName", "ModelVersion" },
                unique: true);

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
        }
    }
}
