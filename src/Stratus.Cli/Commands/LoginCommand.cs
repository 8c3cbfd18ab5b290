using System.CommandLine;
using Spectre.Console;
using Stratus.Client;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus login</c>: checks and saves credentials for a server.</summary>
internal static class LoginCommand
{
    public static Command Create()
    {
        var fingerprint = new Option<string?>("--fingerprint")
        {
            Description = "The SHA-256 fingerprint of the server's certificate, to trust one that no authority vouches for (stratus up --tls prints it)",
        };
        var command = new Command("login", "Check a token against a server and save both (mode 0600) for later commands; the token comes from standard input " +
            "(stratus login --url URL < token-file) or a prompt, so that it never shows in the process list")
        {
            fingerprint,
        };
        command.SetAction(async (result, ct) =>
        {
            var url = result.GetValue(GlobalOptions.Url);
            if (url is null) return GlobalOptions.Fail("login needs --url");
            var token = result.GetValue(GlobalOptions.Token) ?? ReadToken();
            if (string.IsNullOrEmpty(token)) return GlobalOptions.Fail("login needs a token: on standard input (stratus login --url URL < token-file), at the prompt, or with --token");
            try
            {
                var pinned = result.GetValue(fingerprint);
                var me = await StratusClient.Create(url, token, fingerprint: pinned).WhoAmIAsync(ct);
                Connection.Save(url, token, pinned);
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
                return GlobalOptions.Fail(GlobalOptions.Unreachable(url, ex));
            }
        });
        return command;
    }

    /// <summary>The first line of standard input when it is redirected, else a prompt that does not echo.</summary>
    private static string? ReadToken() =>
        Console.IsInputRedirected ? Console.In.ReadLine()?.Trim() : AnsiConsole.Prompt(new TextPrompt<string>("Token:").Secret()).Trim();
}
