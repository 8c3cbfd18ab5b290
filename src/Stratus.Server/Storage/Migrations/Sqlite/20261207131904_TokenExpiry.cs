using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class TokenExpiry : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ExpiresAt",
                table: "tokens",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "PreviousExpiresAt",
                table: "tokens",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "PreviousHash",
                table: "tokens",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_tokens_PreviousHash",
                table: "tokens",
                column: "PreviousHash");

            // Tokens made before tokens expired expire 90 days after the upgrade (the default lifetime), not never.
            migrationBuilder.Sql("""
                UPDATE tokens SET "ExpiresAt" = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 7776000000 WHERE "ExpiresAt" IS NULL
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_tokens_PreviousHash",
                table: "tokens");

            migrationBuilder.DropColumn(
                name: "ExpiresAt",
                table: "tokens");

            migrationBuilder.DropColumn(
                name: "PreviousExpiresAt",
                table: "tokens");

            migrationBuilder.DropColumn(
                name: "PreviousHash",
                table: "tokens");
        }
    }
}
