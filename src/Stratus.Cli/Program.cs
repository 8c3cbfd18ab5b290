using System.CommandLine;
using Stratus.Cli;
using Stratus.Cli.Commands;

var root = new RootCommand("Stratus: a self-hosted machine-learning platform.");
GlobalOptions.AddTo(root);
root.Subcommands.Add(HostCommands.Up());
root.Subcommands.Add(HostCommands.Server());
root.Subcommands.Add(HostCommands.Worker());
root.Subcommands.Add(HostCommands.Nodes());
root.Subcommands.Add(HostCommands.JobProcess());
root.Subcommands.Add(LoginCommand.Create());
root.Subcommands.Add(DatasetCommands.Create());
root.Subcommands.Add(TrackingCommands.Experiments());
root.Subcommands.Add(TrackingCommands.Runs());
root.Subcommands.Add(ModelCommands.Create());
root.Subcommands.Add(TrainCommands.Train());
root.Subcommands.Add(AutoMlCommand.Create());
root.Subcommands.Add(BatchCommand.Create());
root.Subcommands.Add(TrainCommands.Jobs());
root.Subcommands.Add(ServingCommands.Endpoints());
root.Subcommands.Add(ServingCommands.Predict());
root.Subcommands.Add(MonitorCommands.Create());
root.Subcommands.Add(SecurityCommands.Tokens());
root.Subcommands.Add(SecurityCommands.Users());
root.Subcommands.Add(SecurityCommands.Projects());
root.Subcommands.Add(SecurityCommands.Audit());
root.Subcommands.Add(SecurityCommands.Keys());
root.Subcommands.Add(SecurityCommands.Secrets());

// The hosted server handles Ctrl-C and SIGTERM itself, with a clean shutdown.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
