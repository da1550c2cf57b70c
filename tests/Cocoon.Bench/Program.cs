Console.Error.WriteLine("no benchmarks yet");
return 1;
