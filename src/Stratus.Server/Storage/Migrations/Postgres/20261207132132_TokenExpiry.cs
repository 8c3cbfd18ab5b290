using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class TokenExpiry : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ExpiresAt",
                table: "tokens",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "PreviousExpiresAt",
                table: "tokens",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "PreviousHash",
                table: "tokens",
                type: "text",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_tokens_PreviousHash",
                table: "tokens",
                column: "PreviousHash");

            // Tokens made before tokens expired expire 90 days after the upgrade (the default lifetime), not never.
            migrationBuilder.Sql("""
                UPDATE tokens SET "ExpiresAt" = date_trunc('milliseconds', now()) + interval '90 days' WHERE "ExpiresAt" IS NULL
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
