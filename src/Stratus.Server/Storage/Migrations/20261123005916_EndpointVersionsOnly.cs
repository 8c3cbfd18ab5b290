using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations
{
    /// <inheritdoc />
    public partial class EndpointVersionsOnly : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // An endpoint's versions are its endpoint_versions rows (filled from these columns by the previous
            // migration). Alone in its migration: SQLite drops a column by rebuilding the table, outside a transaction.
            migrationBuilder.DropColumn(
                name: "ModelName",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "ModelRef",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "ModelVersion",
                table: "endpoints");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ModelName",
                table: "endpoints",
                type: "TEXT",
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "ModelRef",
                table: "endpoints",
                type: "TEXT",
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<int>(
                name: "ModelVersion",
                table: "endpoints",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);
        }
    }
}
