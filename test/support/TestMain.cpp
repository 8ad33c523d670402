// Shared main() for every CppUnit runner: runs all registered suites, or the ones named on the command line.
#include <cppunit/BriefTestProgressListener.h>
#include <cppunit/CompilerOutputter.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/TestRunner.h>
#include <cppunit/extensions/TestFactoryRegistry.h>

#include <iostream>

int main(int argc, char** argv) {
    CppUnit::TestResult controller;
    CppUnit::TestResultCollector result;
    controller.addListener(&result);
    CppUnit::BriefTestProgressListener progress;
    controller.addListener(&progress);

    CppUnit::TestRunner runner;
    CppUnit::Test* all = CppUnit::TestFactoryRegistry::getRegistry().makeTest();
    if (argc > 1) {
        for (int i = 1; i < argc; ++i) runner.addTest(all->findTest(argv[i]));
    } else {
        runner.addTest(all);
    }
    runner.run(controller);

    CppUnit::CompilerOutputter outputter(&result, std::cerr);
    outputter.write();
    std::cout << result.runTests() - result.testFailuresTotal() << " passed, " << result.testFailuresTotal()
              << " failed" << std::endl;
    return result.wasSuccessful() ? 0 : 1;
}
