using Cocoon.Worker.Cli;

// One command per line; each command class owns its arguments and its exit code.
return args.FirstOrDefault() switch
{
    "generate" => await GenerateCommand.RunAsync(args[1..]),
    "selfcheck" => await SelfCheckCommand.RunAsync(args[1..]),
    "platform-key" => await PlatformKeyCommand.RunAsync(args[1..]),
    "provider" => await ProviderCommand.RunAsync(args[1..]),
    "run" => await Cocoon.Worker.Hosting.RunCommand.RunAsync(args[1..]),
    "join" => await Cocoon.Worker.Hosting.JoinCommand.RunAsync(args[1..]),
    _ => CliSupport.Usage(args.FirstOrDefault()),
};
