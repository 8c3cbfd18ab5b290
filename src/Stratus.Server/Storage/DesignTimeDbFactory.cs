using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Stratus.Server.Storage;

// Let `dotnet ef migrations add NAME --context SqliteStratusDb|PostgresStratusDb` build each provider's model without
// starting a server (neither connects: the PostgreSQL one names a database that need not exist).

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteStratusDb>
{
    public SqliteStratusDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteStratusDb>().UseSqlite("Data Source=design-time.db").Options);
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresStratusDb>
{
    public PostgresStratusDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresStratusDb>().UseNpgsql("Host=localhost;Database=stratus_design_time").Options);
}
