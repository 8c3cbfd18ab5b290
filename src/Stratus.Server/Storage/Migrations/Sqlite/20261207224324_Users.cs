using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Stratus.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Users : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "UserId",
                table: "tokens",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Admin = table.Column<bool>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedBy = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    DisabledAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_users", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_tokens_UserId",
                table: "tokens",
                column: "UserId");

            migrationBuilder.CreateIndex(
                name: "IX_users_Name",
                table: "users",
                column: "Name",
                unique: true);

            migrationBuilder.AddForeignKey(
                name: "FK_tokens_users_UserId",
                table: "tokens",
                column: "UserId",
                principalTable: "users",
                principalColumn: "Id",
                onDelete: ReferentialAction.Restrict);

            // Every token made before users belongs to a service account of its name (the first admin token's, a
            // user's), an admin one where the token is an admin's: audit rows and owners keep the names they have.
            migrationBuilder.Sql("""
                INSERT INTO users ("Name", "Kind", "Admin", "CreatedAt", "CreatedBy")
                SELECT "Name", CASE WHEN "Name" = 'admin' THEN 'user' ELSE 'service' END, "Role" = 'admin', "CreatedAt", 'upgrade'
                FROM tokens ORDER BY "Id";
                UPDATE tokens SET "UserId" = (SELECT u."Id" FROM users u WHERE u."Name" = tokens."Name");
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""UPDATE tokens SET "UserId" = NULL;""");

            migrationBuilder.DropForeignKey(
                name: "FK_tokens_users_UserId",
                table: "tokens");

            migrationBuilder.DropTable(
                name: "users");

            migrationBuilder.DropIndex(
                name: "IX_tokens_UserId",
                table: "tokens");

            migrationBuilder.DropColumn(
                name: "UserId",
                table: "tokens");
        }
    }
}
