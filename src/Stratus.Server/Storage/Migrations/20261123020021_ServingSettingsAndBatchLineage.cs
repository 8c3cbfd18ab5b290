using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations
{
    /// <inheritdoc />
    public partial class ServingSettingsAndBatchLineage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "BatchMaxDelayMs",
                table: "endpoints",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "BatchMaxRows",
                table: "endpoints",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CaptureSampleRate",
                table: "endpoints",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "TimeoutMs",
                table: "endpoints",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RunId",
                table: "dataset_versions",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "BatchMaxDelayMs",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "BatchMaxRows",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "CaptureSampleRate",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "TimeoutMs",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "RunId",
                table: "dataset_versions");
        }
    }
}
