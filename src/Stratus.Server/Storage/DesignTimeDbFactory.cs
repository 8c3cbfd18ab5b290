using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Stratus.Server.Storage;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting a server.</summary>
internal sealed class DesignTimeDbFactory : IDesignTimeDbContextFactory<StratusDb>
{
    public StratusDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<StratusDb>().UseSqlite("Data Source=design-time.db").Options);
}
