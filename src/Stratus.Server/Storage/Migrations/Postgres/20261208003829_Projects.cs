using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Stratus.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Projects : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_models_Name",
                table: "models");

            migrationBuilder.DropIndex(
                name: "IX_experiments_Name",
                table: "experiments");

            migrationBuilder.DropIndex(
                name: "IX_datasets_Name",
                table: "datasets");

            migrationBuilder.AddColumn<string>(
                name: "Project",
                table: "tokens",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Project",
                table: "runs",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "Project",
                table: "models",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "Project",
                table: "jobs",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "Project",
                table: "experiments",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "Project",
                table: "endpoints",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "Project",
                table: "datasets",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.CreateTable(
                name: "project_grants",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Project = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Resource = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    To = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    CreatedBy = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_project_grants", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "projects",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    CreatedBy = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_projects", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "project_members",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ProjectId = table.Column<long>(type: "bigint", nullable: false),
                    UserId = table.Column<long>(type: "bigint", nullable: false),
                    Role = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    AddedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    AddedBy = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_project_members", x => x.Id);
                    table.ForeignKey(
                        name: "FK_project_members_projects_ProjectId",
                        column: x => x.ProjectId,
                        principalTable: "projects",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_project_members_users_UserId",
                        column: x => x.UserId,
                        principalTable: "users",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_models_Project_Name",
                table: "models",
                columns: new[] { "Project", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_experiments_Project_Name",
                table: "experiments",
                columns: new[] { "Project", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_datasets_Project_Name",
                table: "datasets",
                columns: new[] { "Project", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_project_grants_Project_Kind_Resource_To",
                table: "project_grants",
                columns: new[] { "Project", "Kind", "Resource", "To" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_project_members_ProjectId_UserId",
                table: "project_members",
                columns: new[] { "ProjectId", "UserId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_project_members_UserId",
                table: "project_members",
                column: "UserId");

            migrationBuilder.CreateIndex(
                name: "IX_projects_Name",
                table: "projects",
                column: "Name",
                unique: true);

            // Everything made before projects is the default project's; every user and service account but an admin's
            // (admins reach every project) is an editor there, which its tokens' roles still cap; an invoke token's
            // endpoints are the default project's.
            migrationBuilder.Sql("""INSERT INTO projects ("Name", "CreatedAt", "CreatedBy") VALUES ('default', now(), 'stratus')""");
            migrationBuilder.Sql("""
                INSERT INTO project_members ("ProjectId", "UserId", "Role", "AddedAt", "AddedBy")
                SELECT p."Id", u."Id", 'editor', now(), 'stratus' FROM users u, projects p WHERE p."Name" = 'default' AND NOT u."Admin"
                """);
            migrationBuilder.Sql("""UPDATE tokens SET "Project" = 'default' WHERE "Role" = 'invoke'""");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "project_grants");

            migrationBuilder.DropTable(
                name: "project_members");

            migrationBuilder.DropTable(
                name: "projects");

            migrationBuilder.DropIndex(
                name: "IX_models_Project_Name",
                table: "models");

            migrationBuilder.DropIndex(
                name: "IX_experiments_Project_Name",
                table: "experiments");

            migrationBuilder.DropIndex(
                name: "IX_datasets_Project_Name",
                table: "datasets");

            migrationBuilder.DropColumn(
                name: "Project",
                table: "tokens");

            migrationBuilder.DropColumn(
                name: "Project",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "Project",
                table: "models");

            migrationBuilder.DropColumn(
                name: "Project",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "Project",
                table: "experiments");

            migrationBuilder.DropColumn(
                name: "Project",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "Project",
                table: "datasets");

            migrationBuilder.CreateIndex(
                name: "IX_models_Name",
                table: "models",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_experiments_Name",
                table: "experiments",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_datasets_Name",
                table: "datasets",
                column: "Name",
                unique: true);
        }
    }
}
