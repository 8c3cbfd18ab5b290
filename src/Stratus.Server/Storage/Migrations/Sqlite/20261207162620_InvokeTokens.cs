using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class InvokeTokens : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Endpoints",
                table: "tokens",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Endpoints",
                table: "tokens");
        }
    }
}
