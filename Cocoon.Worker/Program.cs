// Placeholder until the foundation issue lands the worker host and the generate/selfcheck commands.
Console.Error.WriteLine("Cocoon.Worker: not built yet");
return 1;
