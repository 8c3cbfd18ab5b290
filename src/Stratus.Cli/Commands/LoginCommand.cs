using System.CommandLine;
using Spectre.Console;
using Stratus.Client;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus login</c>: checks and saves credentials for a server.</summary>
internal static class LoginCommand
{
    public static Command Create()
    {
        var command = new Command("login", $"Check a token against a server and save both (mode 0600) for later commands");
        command.SetAction(async (result, ct) =>
        {
            var url = result.GetValue(GlobalOptions.Url);
            var token = result.GetValue(GlobalOptions.Token);
            if (url is null || token is null) return GlobalOptions.Fail("login needs --url and --token");
            try
            {
                var me = await StratusClient.Create(url, token).WhoAmIAsync(ct);
                Connection.Save(url, token);
                GlobalOptions.Print(result, me, StratusJsonContext.Default.WhoAmI,
                    m => AnsiConsole.MarkupLine($"Logged in to {GlobalOptions.Esc(url)} as [bold]{GlobalOptions.Esc(m.Name)}[/] ({GlobalOptions.Esc(m.Role)}); saved to {GlobalOptions.Esc(Connection.CredentialsPath)}"));
                return 0;
            }
            catch (StratusApiException ex)
            {
                return GlobalOptions.Fail($"the server refused the token: {ex.Detail}");
            }
            catch (HttpRequestException ex)
            {
                return GlobalOptions.Fail($"cannot reach {url}: {ex.Message}");
            }
        });
        return command;
    }
}
